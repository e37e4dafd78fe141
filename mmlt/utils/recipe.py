"""The recipe of a config as a flat table of facts.

A detector config is a recipe: backbone and its weights, starting
checkpoint, image scales, batch x GPUs and lr, schedule, warm-up, clipping,
sampler, loss weights, test settings, evaluation interval. ``recipe_facts``
reads them from a resolved config into one flat dict of short, comparable
values, so that an mmlt config can be compared key by key with the original
recipe it reproduces (``tests/test_configs/recipes/``, ``docs/recipes.md``).

Every key is always present; ``None`` means "not set / not applicable".
Values are ints, floats, bools or short strings in a fixed format (see
``FACT_KEYS``) so that a table of original values can be written by hand in
the same vocabulary.
"""
import os.path as osp

# key -> what it is and the format of its value
FACT_KEYS = {
    'gpus': 'GPUs of the documented command: auto_scale_lr.base_batch_size '
            '/ imgs_per_gpu (int)',
    'imgs_per_gpu': 'train_dataloader.batch_size (int)',
    'batch': 'effective batch = gpus x imgs_per_gpu (int)',
    'optimizer': "optimizer type, 'SGD' / 'AdamW' (+ ' nesterov')",
    'lr': 'base learning rate (float), for `batch` images per step',
    'momentum': 'float or None',
    'weight_decay': 'float',
    'paramwise': "paramwise_cfg as 'k=v, ...' (sorted) or None",
    'clip_grad': 'max_norm of gradient clipping (float) or None',
    'amp': 'mixed precision (AmpOptimWrapper) (bool)',
    'schedule': "'12 ep' or '180000 it'",
    'lr_decay': "decay after warm-up: 'step [8, 11] ep x0.1', "
                "'cosine ...', or None",
    'warmup': "'500 it linear from 0.001' / '1 ep linear from 0.001' / None",
    'backbone': "'ResNet-50 pytorch' / 'ResNeXt-101 64x4d pytorch DCN c3-c5'",
    'pretrained': 'backbone init checkpoint or None',
    'frozen_stages': 'int or None',
    'backbone_norm': "'BN eval' (frozen statistics), 'BN', 'SyncBN', 'GN'",
    'load_from': 'starting checkpoint of the whole detector or None',
    'trainable': 'parameters that train in a decoupled stage (regexes, '
                 "'; '-joined) or None = all",
    'detector': "'MaskRCNN: StandardRoIHead, Shared2FCBBoxHead, "
                "FCNMaskHead'",
    'num_classes': 'classes of the classification head (int)',
    'loss_cls': "'Type(k=v, ...)' without file paths / num_classes / "
                'loss_weight; stages joined by \' | \' when they differ',
    'loss_weights': "every loss of the model: 'head.loss_x=Type*w, ...'",
    'train_scale': "'1333x[640..800 step 32]' (choice), '1333x[400, 1400] "
                   "range' (random), '1333x800' (fixed), or transform names",
    'flip': 'horizontal flip probability (float) or None',
    'test_scale': "'1333x800' (fixed) or transform names",
    'sampler': "'uniform', 'RFS(thr=0.001, rounding=ceil)', "
               "'ClassAware(...)', ... (dataset wrappers and sampler)",
    'filter_empty_gt': 'train images without annotations dropped (bool)',
    'roi_sampler': "'RandomSampler 512 pos 0.25' (two-stage) or None",
    'score_thr': 'test score threshold (float)',
    'max_per_img': 'detections per image (int)',
    'nms': "'nms 0.5' or None",
    'val_interval': 'evaluation interval in schedule units (int) or None',
    'ema': "'ExpMomentumEMA momentum=0.0002' or None",
    'seed': 'randomness.seed or None',
}


def _g(node, *path, default=None):
    for p in path:
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, (list, tuple)) and isinstance(p, int) and \
                -len(node) <= p < len(node):
            node = node[p]
        else:
            return default
    return node


def _num(v):
    """Ints stay ints; floats are rounded to 6 significant digits (1/3)."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, float):
        r = float(f'{v:.6g}')
        return int(r) if r.is_integer() and abs(r) >= 1 else r
    return v


def _fmt(v):
    if isinstance(v, float):
        return repr(_num(v))
    if isinstance(v, (list, tuple)):
        inner = ', '.join(_fmt(x) for x in v)
        return f'[{inner}]' if isinstance(v, list) else f'({inner})'
    if isinstance(v, dict):  # sorted: the same settings in any order
        return '{' + ', '.join(f'{k}={_fmt(v[k])}' for k in sorted(v)) + '}'
    return str(v)


def _short_type(t):
    t = str(t)
    return t.split('.')[-1]


def _params(node, skip=()):
    items = []
    for k in sorted(node):
        if k in ('type', '_scope_') or k in skip:
            continue
        v = node[k]
        if isinstance(v, str) and (k.endswith('file') or k.endswith('_root')
                                   or '/' in v):
            continue  # file paths are data, not recipe
        if isinstance(v, dict) and 'type' in v:
            v = _short_type(v['type']) + '(' + _params(v, skip) + ')'
            items.append(f'{k}={v}')
            continue
        items.append(f'{k}={_fmt(v)}')
    return ', '.join(items)


def _loss_str(loss):
    if not isinstance(loss, dict):
        return None
    return f"{_short_type(loss.get('type'))}(" + _params(
        loss, skip=('num_classes', 'loss_weight', 'reduction')) + ')'


def _bbox_heads(model):
    roi = model.get('roi_head')
    if isinstance(roi, dict):
        bh = roi.get('bbox_head')
        if isinstance(bh, (list, tuple)):
            return list(bh)
        if isinstance(bh, dict):
            return [bh]
    for k in ('bbox_head', 'head'):
        if isinstance(model.get(k), dict):
            return [model[k]]
    return [model] if 'loss_cls' in model else []


def _losses(node, prefix, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ('train_cfg', 'test_cfg', 'data_preprocessor',
                     'init_cfg'):
                continue
            path = f'{prefix}.{k}' if prefix else k
            if k.startswith('loss') and isinstance(v, dict) and 'type' in v:
                w = v.get('loss_weight', 1.0)
                out.append(f'{path}={_short_type(v["type"])}*{_fmt(_num(w))}')
            else:
                _losses(v, path, out)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            _losses(v, f'{prefix}.{i}', out)


def _resize_str(t):
    kind = _short_type(t.get('type'))
    if kind == 'RandomChoiceResize':
        scales = [tuple(s) for s in t['scales']]
        longs = {max(s) for s in scales}
        shorts = sorted(min(s) for s in scales)
        steps = {b - a for a, b in zip(shorts, shorts[1:])}
        if len(longs) == 1 and len(steps) == 1 and len(shorts) > 2:
            return (f'{longs.pop()}x[{shorts[0]}..{shorts[-1]} '
                    f'step {steps.pop()}]')
        return 'choice ' + ', '.join(f'{a}x{b}' for a, b in scales)
    if kind == 'RandomResize':
        s = t['scale']
        if isinstance(s, (list, tuple)) and len(s) == 2 and \
                isinstance(s[0], (list, tuple)):
            (a, b), (c, d) = s
            if a == c:
                return f'{a}x[{min(b, d)}, {max(b, d)}] range'
            return f'[{a}x{b}, {c}x{d}] range'
        return f"{_fmt(s)} ratio {_fmt(t.get('ratio_range'))}"
    if kind == 'Resize':
        s = t.get('scale')
        if s is None:
            return f"Resize x{_fmt(t.get('scale_factor'))}"
        s = tuple(s) if isinstance(s, (list, tuple)) else (s, s)
        suffix = '' if t.get('keep_ratio', False) or s[0] == s[1] \
            else ' stretch'
        if not t.get('keep_ratio', False) and s[0] == s[1]:
            suffix = ' stretch'
        return f'{s[0]}x{s[1]}{suffix}'
    return None


_SHAPE = ('Mosaic', 'RandomAffine', 'MixUp', 'RandomCrop', 'RandomRatioCrop',
          'RandomResizedCrop', 'CopyPaste', 'Expand', 'MinIoURandomCrop')


def _scale(pipeline):
    if not isinstance(pipeline, (list, tuple)):
        return None, None
    parts, flip = [], None
    for t in pipeline:
        if not isinstance(t, dict):
            continue
        kind = _short_type(t.get('type'))
        if kind == 'RandomFlip':
            flip = _num(t.get('prob'))
            continue
        if kind == 'TestTimeAug':
            parts.append('TTA')
            continue
        s = _resize_str(t)
        if s is not None:
            parts.append(s)
        elif kind in _SHAPE:
            parts.append(kind)
    return (' + '.join(parts) or None), flip


def _dataset_chain(ds):
    """Wrappers from outermost to the leaf dataset."""
    chain = []
    while isinstance(ds, dict):
        chain.append(ds)
        inner = ds.get('dataset')
        if inner is None and isinstance(ds.get('datasets'), list):
            inner = ds['datasets'][0]
        ds = inner
    return chain


def _train_pipeline(cfg, chain):
    parts = []
    for ds in reversed(chain):  # leaf first: loading, then mixing
        if isinstance(ds.get('pipeline'), (list, tuple)):
            parts += list(ds['pipeline'])
    return parts


_LEAF_PARAM_SKIP = ('pipeline', 'dataset', 'datasets', 'data_prefix',
                    'ann_file', 'data_root', 'backend_args', 'filter_cfg',
                    'version', 'metainfo', 'test_mode', 'img_id_file',
                    'lazy_init', 'serialize_data', 'indices',
                    'max_refetch', 'classes')


def _sampler(dl, chain):
    parts = []
    for ds in chain[:-1]:
        kind = _short_type(ds.get('type'))
        if kind == 'MultiImageMixDataset':
            continue  # a pipeline, not a sampler (see train_scale)
        parts.append(f'{kind}({_params(ds, skip=_LEAF_PARAM_SKIP)})')
    smp = _g(dl, 'sampler') or {}
    kind = _short_type(smp.get('type', 'DefaultSampler'))
    if kind not in ('DefaultSampler', 'InfiniteSampler'):
        parts.append(f'{kind}({_params(smp)})')
    elif not parts and not smp.get('shuffle', True):
        parts.append('in order')
    return ' + '.join(parts) or 'uniform'


def _schedule(cfg):
    tc = cfg.get('train_cfg') or {}
    if 'max_iters' in tc or 'IterBased' in str(tc.get('type', '')):
        return f"{tc.get('max_iters')} it", 'it'
    if 'max_epochs' in tc:
        return f"{tc.get('max_epochs')} ep", 'ep'
    return None, None


def _sched_unit(s):
    return 'ep' if s.get('by_epoch', True) else 'it'


def _lr_schedule(cfg):
    scheds = cfg.get('param_scheduler') or []
    if isinstance(scheds, dict):
        scheds = [scheds]
    warmup, decay = None, []
    for s in scheds:
        kind = _short_type(s.get('type'))
        if kind in ('LinearLR', 'QuadraticWarmupLR', 'ConstantLR') and \
                s.get('begin', 0) == 0 and warmup is None and \
                kind != 'ConstantLR':
            length = s.get('end')
            how = 'linear' if kind == 'LinearLR' else 'quadratic'
            start = s.get('start_factor')
            warmup = f'{length} {_sched_unit(s)} {how}' + (
                f' from {_fmt(_num(start))}' if start is not None else '')
            continue
        if kind == 'MultiStepLR':
            decay.append(f"step {list(s.get('milestones'))} {_sched_unit(s)}"
                         f" x{_fmt(_num(s.get('gamma', 0.1)))}")
        elif kind == 'CosineAnnealingLR':
            decay.append(
                f"cosine {s.get('begin', 0)}-{s.get('end')} {_sched_unit(s)}"
                f" to {_fmt(_num(s.get('eta_min', 0)))}")
        elif kind == 'ConstantLR' and s.get('factor', 1) == 1:
            decay.append(
                f"constant {s.get('begin', 0)}-{s.get('end')} "
                f'{_sched_unit(s)}')
        else:
            decay.append(f'{kind}({_params(s)})')
    return warmup, ('; '.join(decay) or None)


def _backbone(bb):
    if not isinstance(bb, dict):
        return None
    kind = _short_type(bb.get('type'))
    name = kind
    if 'depth' in bb:
        name += f"-{bb['depth']}"
    if kind == 'ResNeXt':
        name += f" {bb.get('groups')}x{bb.get('base_width')}d"
    if kind == 'CSPDarknet':
        name += (f" deepen {_fmt(_num(bb.get('deepen_factor')))} widen "
                 f"{_fmt(_num(bb.get('widen_factor')))}")
    if 'style' in bb:
        name += f" {bb['style']}"
    if bb.get('dcn'):
        stages = bb.get('stage_with_dcn') or ()
        on = [f'c{i + 2}' for i, x in enumerate(stages) if x]
        name += ' DCN ' + (f'{on[0]}-{on[-1]}' if on else 'none')
    return name


def _norm(bb):
    if not isinstance(bb, dict):
        return None
    nc = bb.get('norm_cfg') or {}
    kind = _short_type(nc.get('type', 'BN'))
    if bb.get('norm_eval') or nc.get('requires_grad') is False:
        kind += ' eval' if bb.get('norm_eval') else ''
        if nc.get('requires_grad') is False:
            kind += ' frozen affine'
    return kind


def _detector(model):
    name = _short_type(model.get('type'))
    parts = []
    roi = model.get('roi_head')
    if isinstance(roi, dict):
        parts.append(_short_type(roi.get('type')))
        for key in ('bbox_head', 'mask_head'):
            h = roi.get(key)
            hs = h if isinstance(h, (list, tuple)) else [h]
            kinds = []
            for x in hs:
                if isinstance(x, dict):
                    k = _short_type(x.get('type'))
                    if k not in kinds:
                        kinds.append(k)
            parts += kinds
    for key in ('bbox_head', 'head', 'neck'):
        h = model.get(key)
        if isinstance(h, dict) and key != 'neck':
            parts.append(_short_type(h.get('type')))
    if name.endswith('Classifier') and isinstance(model.get('neck'), dict):
        parts.append(_short_type(model['neck'].get('type')))
    return name + (': ' + ', '.join(parts) if parts else '')


def _test_cfg(model):
    tc = model.get('test_cfg') or {}
    rc = tc.get('rcnn', tc) if isinstance(tc, dict) else {}
    if isinstance(rc, (list, tuple)):
        rc = rc[-1]
    nms = rc.get('nms')
    nms_s = None
    if isinstance(nms, dict):
        nms_s = f"{_short_type(nms.get('type'))} " \
                f"{_fmt(_num(nms.get('iou_threshold')))}"
    return (_num(rc.get('score_thr')), rc.get('max_per_img'), nms_s)


def _roi_sampler(model):
    rc = _g(model, 'train_cfg', 'rcnn')
    if isinstance(rc, (list, tuple)):
        rc = rc[0]
    smp = _g(rc, 'sampler')
    if not isinstance(smp, dict):
        return None
    s = f"{_short_type(smp.get('type'))} {smp.get('num')}"
    if 'pos_fraction' in smp:
        s += f" pos {_fmt(_num(smp['pos_fraction']))}"
    return s


def _filter_empty(ds):
    """mmdet datasets: filter_cfg.filter_empty_gt (default no filter);
    datasets that take ``filter_empty_gt`` themselves (the multi-label
    ones): that argument or its default in the registered class."""
    if 'filter_empty_gt' in ds:
        return bool(ds['filter_empty_gt'])
    fc = ds.get('filter_cfg') or {}
    if 'filter_empty_gt' in fc:
        return bool(fc['filter_empty_gt'])
    try:
        import inspect

        from mmdet.registry import DATASETS
        import mmlt  # noqa: F401  (registers mmlt's datasets)
        cls = DATASETS.get(ds.get('type'))
        p = inspect.signature(cls).parameters.get('filter_empty_gt')
        if p is not None and p.default is not inspect.Parameter.empty:
            return bool(p.default)
    except Exception:  # an unregistered type: no filter argument known
        pass
    return False


def recipe_facts(cfg):
    """Facts of a config (path or mmengine ``Config``); see ``FACT_KEYS``."""
    from mmengine.config import Config
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    cfg = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    model = cfg.get('model') or {}
    dl = cfg.get('train_dataloader') or {}
    chain = _dataset_chain(dl.get('dataset'))
    leaf = chain[-1] if chain else {}

    f = dict.fromkeys(FACT_KEYS)
    bs = dl.get('batch_size')
    base = _g(cfg, 'auto_scale_lr', 'base_batch_size')
    f['imgs_per_gpu'] = bs
    f['batch'] = base
    if bs and base:
        f['gpus'] = base // bs if base % bs == 0 else base / bs

    ow = cfg.get('optim_wrapper') or {}
    opt = ow.get('optimizer') or {}
    f['optimizer'] = _short_type(opt.get('type')) + (
        ' nesterov' if opt.get('nesterov') else '')
    f['lr'] = _num(opt.get('lr'))
    f['momentum'] = _num(opt.get('momentum'))
    f['weight_decay'] = _num(opt.get('weight_decay'))
    pw = ow.get('paramwise_cfg')
    f['paramwise'] = _params(pw) if pw else None
    cg = ow.get('clip_grad')
    f['clip_grad'] = _num(cg.get('max_norm')) if cg else None
    f['amp'] = 'Amp' in str(ow.get('type', ''))

    f['schedule'], _ = _schedule(cfg)
    f['warmup'], f['lr_decay'] = _lr_schedule(cfg)

    bb = model.get('backbone')
    f['backbone'] = _backbone(bb)
    f['pretrained'] = _g(bb, 'init_cfg', 'checkpoint')
    f['frozen_stages'] = _g(bb, 'frozen_stages')
    f['backbone_norm'] = _norm(bb)
    f['load_from'] = cfg.get('load_from')
    trainable = _g(cfg, 'decoupled', 'trainable')
    f['trainable'] = '; '.join(trainable) if trainable else None

    f['detector'] = _detector(model)
    heads = _bbox_heads(model)
    f['num_classes'] = _g(heads, 0, 'num_classes',
                          default=model.get('num_classes'))
    losses = []
    for h in heads:
        s = _loss_str(h.get('loss_cls'))
        if s not in losses:
            losses.append(s)
    f['loss_cls'] = ' | '.join(x for x in losses if x) or None
    lw = []
    _losses(model, '', lw)
    f['loss_weights'] = ', '.join(lw) or None
    if isinstance(_g(model, 'roi_head', 'stage_loss_weights'), list):
        f['loss_weights'] += ', stages=' + _fmt(
            [_num(x) for x in model['roi_head']['stage_loss_weights']])

    f['train_scale'], f['flip'] = _scale(_train_pipeline(cfg, chain))
    batch_aug = _g(model, 'data_preprocessor', 'batch_augments')
    if batch_aug:
        for a in batch_aug:
            if _short_type(a.get('type')) == 'BatchSyncRandomResize':
                lo, hi = a['random_size_range']
                f['train_scale'] = (f['train_scale'] or '') + \
                    f' + batch resize [{lo}, {hi}] every {a.get("interval")}'
    test_ds = _g(cfg, 'test_dataloader', 'dataset') or {}
    tchain = _dataset_chain(test_ds)
    f['test_scale'], _ = _scale(_train_pipeline(cfg, tchain))
    f['sampler'] = _sampler(dl, chain)
    f['filter_empty_gt'] = _filter_empty(leaf)
    f['roi_sampler'] = _roi_sampler(model)
    f['score_thr'], f['max_per_img'], f['nms'] = _test_cfg(model)
    tc = cfg.get('train_cfg') or {}
    f['val_interval'] = tc.get('val_interval')
    ema = [h for h in cfg.get('custom_hooks') or []
           if 'EMA' in str(h.get('type', ''))]
    if ema:
        h = ema[0]
        f['ema'] = (f"{_short_type(h.get('ema_type', 'ExponentialMovingAverage'))}"
                    f" momentum={_fmt(_num(h.get('momentum')))}")
    f['seed'] = _g(cfg, 'randomness', 'seed')
    return f


def config_name(path):
    """'configs/eql/x.py' for any path inside the repository."""
    path = osp.normpath(path)
    i = path.rfind('configs' + osp.sep)
    return path[i:] if i >= 0 else path


def same(a, b):
    """Equal as recipe facts (floats to 6 significant digits)."""
    a, b = _num(a), _num(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def check_row(facts, original, differs):
    """Problems (strings) of a config against the original it reproduces.

    ``facts``: ``recipe_facts`` of the config; ``original``: the original's
    facts (every key of ``FACT_KEYS``); ``differs``: {key: (mmlt value,
    reason)} for each documented difference. A key outside ``differs`` must
    equal the original; a key in it must hold the documented mmlt value and
    differ from the original."""
    problems = []
    missing = set(FACT_KEYS) - set(original)
    if missing:
        problems.append(f'original lacks facts {sorted(missing)}')
    for key in differs:
        if key not in FACT_KEYS:
            problems.append(f'differs names an unknown fact {key!r}')
    for key in FACT_KEYS:
        if key not in original:
            continue
        have = facts.get(key)
        if key in differs:
            want, why = differs[key]
            if not str(why).strip():
                problems.append(f'{key}: difference without a reason')
            if not same(have, want):
                problems.append(
                    f'{key}: config has {have!r}, the table documents '
                    f'{want!r}')
            if same(want, original[key]):
                problems.append(
                    f'{key}: documented as a difference but equals the '
                    f'original ({want!r})')
        elif not same(have, original[key]):
            problems.append(
                f'{key}: config has {have!r}, the original '
                f'{original[key]!r} (fix the config, or document the '
                f'difference with its reason)')
    return problems
