"""What a user sees when a tool's output path is unwritable or holds other
data, and when a stage-2 config's stage-1 checkpoint is missing or of
another model: one message naming the path and the fix; CLI tools exit 2."""
import importlib.util
import json
import os
import os.path as osp
import re

import pytest
import torch

from conftest import ROOT

from mmlt.utils.output_paths import OutputExistsError, OutputNotWritableError


def load_tool(*parts):
    path = osp.join(ROOT, 'tools', *parts)
    spec = importlib.util.spec_from_file_location(
        'cli_' + parts[-1][:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def exit2(capsys, fn, argv, *patterns):
    """``fn(argv)`` exits (or returns) 2; stderr matches every pattern."""
    capsys.readouterr()
    try:
        rc = fn(argv)
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    for p in patterns:
        assert re.search(p, err), (p, err)
    return err


def tree(root):
    """{relative path: bytes} of every file under ``root``."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = osp.join(d, f)
            with open(p, 'rb') as fh:
                out[osp.relpath(p, root)] = fh.read()
    return out


@pytest.fixture
def under_a_file(tmp_path):
    """A destination whose parent is a regular file (unwritable for any
    user, root included)."""
    (tmp_path / 'afile').write_text('')
    return tmp_path / 'afile' / 'out'


# ------------------------------------------------------- make_toy_lvis.py
def fake_toy(root, **params):
    """A toy-set meta.json as make_toy_lvis writes it (no images: the
    refusal must happen before anything is generated)."""
    os.makedirs(root)
    meta = dict(generator='mmlt.datasets.toy_lvis', version='0.9',
                params=dict(dict(seed=0, scale=1, img_size=160), **params),
                summary=dict(train_images=1, val_images=1))
    (root / 'meta.json').write_text(json.dumps(meta))


def test_toy_refuses_other_parameters(tmp_path, capsys):
    tool = load_tool('make_toy_lvis.py')
    root = tmp_path / 'toy'
    fake_toy(root, img_size=64)
    before = tree(root)
    exit2(capsys, tool.main, ['--out', str(root), '--seed', '3'],
          re.escape(f'make_toy_lvis.py: error: {root} already exists and '
                    'holds the toy LVIS set made with seed=0, scale=1, '
                    'img_size=64; this call asks for seed=3, scale=1, '
                    'img_size=160'), '--force')
    assert tree(root) == before


def test_toy_refuses_a_real_dataset(tmp_path, capsys):
    tool = load_tool('make_toy_lvis.py')
    root = tmp_path / 'lvis_v1'
    os.makedirs(root / 'annotations')
    os.makedirs(root / 'train2017')
    (root / 'annotations' / 'lvis_v1_train.json').write_text(
        '{"info": {"description": "LVIS v1.0"}, "images": []}')
    (root / 'train2017' / '000000000009.jpg').write_bytes(b'jpeg')
    before = tree(root)
    exit2(capsys, tool.main, ['--out', str(root), '--img-size', '64'],
          re.escape(str(root)), r'annotations/lvis_v1_train\.json',
          r'train2017/ \(1 images\) not written by make_toy_lvis', '--force')
    assert tree(root) == before


def test_toy_unwritable(tmp_path, capsys, under_a_file):
    tool = load_tool('make_toy_lvis.py')
    exit2(capsys, tool.main, ['--out', str(under_a_file)],
          re.escape(f'cannot write the toy dataset folder {under_a_file}: '
                    f'{tmp_path}/afile is a file, not a folder'))
    if osp.isdir('/sys') and not os.access('/sys', os.W_OK) or \
            osp.isdir('/sys/kernel'):
        # a read-only / permission-denied mount (root cannot write it
        # either, so os.access is not enough)
        exit2(capsys, tool.main, ['--out', '/sys/mmlt_toy_lvis'],
              r'cannot write the toy dataset folder /sys/mmlt_toy_lvis: '
              r'(permission denied|read-only file system)')


def test_toy_same_arguments_noop_other_refused_force(tmp_path, capsys):
    """64 px toy set: generate; the same call again is a no-op; another
    seed is refused and leaves every byte; --force regenerates."""
    tool = load_tool('make_toy_lvis.py')
    root = tmp_path / 'toy'
    args = ['--out', str(root), '--img-size', '64', '--no-progress']
    tool.main(args)
    first = tree(root)
    ann = root / 'annotations' / 'lvis_v1_train.json'
    mtime = ann.stat().st_mtime_ns
    tool.main(args)
    assert 'cached' in capsys.readouterr().out
    assert ann.stat().st_mtime_ns == mtime
    exit2(capsys, tool.main, args + ['--seed', '1'], 'seed=0', 'seed=1',
          '--force')
    assert tree(root) == first
    # an interrupted run of the same arguments (meta.json without the
    # summary) is simply regenerated
    meta = json.loads((root / 'meta.json').read_text())
    (root / 'meta.json').write_text(json.dumps(
        {k: v for k, v in meta.items() if k != 'summary'}))
    tool.main(args)
    assert tree(root) == first
    tool.main(args + ['--seed', '1', '--force'])
    assert json.loads(ann.read_text())['annotations'] != json.loads(
        first['annotations/lvis_v1_train.json'])['annotations']


def test_lvis_scale_existing_file(tmp_path, capsys):
    tool = load_tool('make_toy_lvis.py')
    out = tmp_path / 'train.json'
    base = ['--lvis-scale', '--num-images', '3000', '--out', str(out),
            '--no-progress']
    tool.main(base)
    data, mtime = out.read_bytes(), out.stat().st_mtime_ns
    tool.main(base)  # identical: kept
    assert out.stat().st_mtime_ns == mtime
    # other size: refused before generating, from the json's description
    exit2(capsys, tool.main, base[:2] + ['2000'] + base[3:],
          re.escape(f'{out} already exists and holds "mmlt synthetic '
                    'LVIS-scale annotations (train, seed 0, 3000 images)"; '
                    'this call writes "mmlt synthetic LVIS-scale annotations'
                    ' (train, seed 0, 2000 images)"'), '--force')
    # 3000 of 100170 images keep 36 of 1203 classes; of 600 classes 18:
    # same description, other content -> refused after generating
    exit2(capsys, tool.main, base + ['--num-classes', '600'],
          'same split, seed and image count but other content')
    assert out.read_bytes() == data and not osp.exists(f'{out}.tmp')
    tool.main(base + ['--num-classes', '600', '--force'])
    assert len(json.loads(out.read_text())['categories']) == 18
    other = tmp_path / 'real.json'
    other.write_text('{"info": {"description": "LVIS v1.0"}}')
    exit2(capsys, tool.main, base[:4] + [str(other)],
          'is not a file written by --lvis-scale')
    assert other.read_text() == '{"info": {"description": "LVIS v1.0"}}'


def test_real_format_existing_data(tmp_path, capsys, under_a_file):
    from mmlt.datasets.toy_lvis import make_real_format_data
    tool = load_tool('make_toy_lvis.py')
    root = tmp_path / 'lvis_v1'
    args = ['--real-format', 'lvis_v1', '--out', str(root), '--num-images',
            '3', '--num-val-images', '1']
    tool.main(args)
    first = tree(root)
    tool.main(args)  # same arguments: the same bytes
    assert tree(root) == first
    exit2(capsys, tool.main, args[:5] + ['4'] + args[6:],
          r'train_images=3, val_images=1', r'train_images=4', '--force')
    assert tree(root) == first
    # a real dataset at the config's data_root (no marker file)
    real = tmp_path / 'real'
    os.makedirs(real / 'annotations')
    (real / 'annotations' / 'lvis_v1_val.json').write_text('{}')
    with pytest.raises(OutputExistsError,
                       match=r'annotations/lvis_v1_val\.json, not written '
                       'by make_toy_lvis --real-format'):
        make_real_format_data(str(real), 'lvis_v1', train_images=3,
                              val_images=1)
    assert (real / 'annotations' / 'lvis_v1_val.json').read_text() == '{}'
    with pytest.raises(OutputNotWritableError, match='is a file'):
        make_real_format_data(str(under_a_file), 'coco')
    # the signature other tools call is unchanged
    make_real_format_data(str(real), 'lvis_v1', 0, 3, 1, force=True)
    assert json.loads((real / 'annotations' / 'lvis_v1_val.json')
                      .read_text())['images']


# ------------------------------------------- create_longtail_dataset.py
def test_create_longtail_output_checks(tmp_path, capsys, under_a_file):
    tool = load_tool('create_longtail_dataset.py')
    # the output is checked before the annotations are read
    exit2(capsys, tool.main, ['coco', str(tmp_path / 'missing.json'),
                              '--out', str(under_a_file)],
          re.escape(f'cannot write the output folder {under_a_file}'))
    from test_create_longtail_dataset import write_json
    per_image = [[0], [0, 1], [1], [2], [0, 2], [1]]
    ann = write_json(tmp_path / 'ann.json', per_image, 3)
    out = tmp_path / 'lt'
    os.makedirs(out)
    (out / 'img_id.txt').write_text('1\n2\n')
    (tmp_path / 'given.txt').write_text('3\n4\n')
    # statistics of one list next to another list: refused, not mixed
    exit2(capsys, tool.main, ['coco', ann, '--out', str(out), '--img-ids',
                              str(tmp_path / 'given.txt'), '--no-progress'],
          re.escape(str(out / 'img_id.txt')), '--force')
    assert (out / 'img_id.txt').read_text() == '1\n2\n'
    assert not (out / 'class_freq.json').exists()


# --------------------------------------------------------- tools/misc
def test_class_stats_out(tmp_path, capsys, under_a_file):
    from test_bags_mapping import write_lvis
    tool = load_tool('misc', 'class_stats.py')
    a = write_lvis(tmp_path / 'a.json', [3, 15])
    b = write_lvis(tmp_path / 'b.json', [4, 15])
    out = str(tmp_path / 'stats.json')
    assert tool.main([a, '--out', out, '--no-cache']) == 0
    data = open(out).read()
    assert tool.main([a, '--out', out, '--no-cache']) == 0
    assert 'is up to date' in capsys.readouterr().out
    exit2(capsys, tool.main, [b, '--out', out, '--no-cache'],
          re.escape(f'{out} already exists and holds other class '
                    f'statistics'), re.escape(b), '--force')
    assert open(out).read() == data
    assert tool.main([b, '--out', out, '--no-cache', '--force']) == 0
    assert open(out).read() != data
    exit2(capsys, tool.main, [a, '--out', str(under_a_file / 's.json')],
          'cannot write the stats file')
    exit2(capsys, tool.main, [str(tmp_path / 'nope.json')], 'nope.json')


def test_ckpt_surgery_out_checked_before_loading(tmp_path, capsys,
                                                 under_a_file):
    tool = load_tool('misc', 'ckpt_surgery.py')
    ck = str(tmp_path / 'c.pth')
    torch.save(dict(state_dict={'roi_head.bbox_head.fc_cls.weight':
                                torch.zeros(3, 2)}), ck)
    exit2(capsys, tool.main,
          [ck, '--method', 'remove', '--out', str(under_a_file / 'x.pth')],
          re.escape(f'cannot write the output checkpoint {under_a_file}/'
                    'x.pth'))


def test_ncm_missing_checkpoint_says_how_to_train_it(tmp_path, capsys,
                                                     under_a_file):
    tool = load_tool('misc', 'ncm.py')
    cfg = osp.join(ROOT, 'configs/toy/decoupled/ncm_fc.py')
    ck = str(tmp_path / 'stage1.pth')
    exit2(capsys, tool.main, [cfg, ck, '--out', str(tmp_path / 'n.pth')],
          re.escape(f'the stage-1 checkpoint {ck} does not exist'),
          re.escape('The stage-1 config is configs/toy/mask-rcnn_r18_fpn_'
                    'toy_ce.py. Train it: ./tools/dist_train.sh '
                    'configs/toy/mask-rcnn_r18_fpn_toy_ce.py'),
          re.escape('python tools/train.py'))
    # --out is checked first: it would fail after the pass over train
    exit2(capsys, tool.main, [cfg, ck, '--out', str(under_a_file)],
          'cannot write the output checkpoint')
    exit2(capsys, tool.main, [cfg, ck, '--out', ck], 'is the input')


# ------------------------------------------------- stage-1 advice
@pytest.mark.parametrize('config, load_from, stage1', [
    ('configs/toy/decoupled/crt.py', None,
     'configs/toy/mask-rcnn_r18_fpn_toy_ce.py'),
    ('configs/toy/decoupled/bags.py', None,
     'configs/toy/mask-rcnn_r18_fpn_toy_ce.py'),
    ('configs/toy/decoupled/ncm_conv.py', None,
     'configs/toy/mask-rcnn_r18_fpn_toy_ce.py'),
    ('configs/toy/loce/ebl.py', None, 'configs/toy/loce/stage1.py'),
    ('configs/decoupled/mask-rcnn_r50_fpn_crt_1x_lvis-v1.py',
     'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
     'configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py'),
    ('configs/bags/faster-rcnn_r50_fpn_bags_1x_lvis-v0.5.py',
     'work_dirs/faster-rcnn_r50_fpn_1x_lvis-v0.5/epoch_12.pth',
     'configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v0.5.py'),
    ('configs/loce/loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py',
     'work_dirs/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1/epoch_24.pth',
     'configs/loce/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py'),
])
def test_stage1_config_of_stage2_configs(config, load_from, stage1):
    from mmlt.engine.runner.stage1 import stage1_advice, stage1_config
    assert stage1_config(osp.join(ROOT, config), load_from) == stage1
    advice = stage1_advice(osp.join(ROOT, config), load_from)
    assert f'./tools/dist_train.sh {stage1}' in advice
    assert 'load_from=PATH' in advice


def test_stage1_config_from_every_stage2_load_from():
    """Every shipped config that sets load_from (or posthoc.stage1) names a
    stage-1 config the repository has (the advice is never a guess)."""
    import glob
    from mmlt.engine.runner.stage1 import stage1_config
    n = 0
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                 recursive=True)):
        if '/_base_/' in path:
            continue
        m = re.search(r"^(?:load_from = |    stage1=)'([^']+)'",
                      open(path).read(), re.M)
        if not m:
            continue
        n += 1
        cfg1 = stage1_config(path, m.group(1))
        assert cfg1 is not None and osp.isfile(osp.join(ROOT, cfg1)), path
    assert n >= 25


# ------------------------------------ stage 2 through the real configs
def _runner(config, work_dir, **options):
    from mmengine.config import Config
    from mmengine.registry import RUNNERS
    import mmlt  # noqa: F401
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(options)
    cfg.default_hooks.pop('visualization', None)
    return RUNNERS.build(cfg)


@pytest.fixture(scope='module')
def crt_runner(tmp_path_factory):
    return _runner('configs/toy/decoupled/crt.py',
                   tmp_path_factory.mktemp('crt'),
                   load_from='work_dirs/toy_decoupled/no_such_stage1.pth')


def test_toy_crt_without_stage1_says_how_to_make_it(crt_runner):
    from mmlt.engine.runner.decoupled_runner import MissingStage1Error
    with pytest.raises(MissingStage1Error) as e:
        crt_runner.train()  # before the dataloader (no data needed)
    msg = str(e.value)
    assert 'crt.py is a decoupled stage 2 and starts from its stage-1 ' \
        'checkpoint load_from=work_dirs/toy_decoupled/no_such_stage1.pth, ' \
        'which does not exist' in msg
    assert 'The stage-1 config is configs/toy/mask-rcnn_r18_fpn_toy_ce.py' \
        in msg
    assert './tools/dist_train.sh configs/toy/mask-rcnn_r18_fpn_toy_ce.py ' \
        'NUM_GPUS --work-dir work_dirs/toy_decoupled/stage1' in msg
    assert 'python tools/train.py configs/toy/mask-rcnn_r18_fpn_toy_ce.py' \
        in msg
    assert '--cfg-options load_from=PATH' in msg


def test_toy_crt_from_a_retinanet_checkpoint(crt_runner, tmp_path):
    """A RetinaNet R18-FPN checkpoint (same backbone) for the Mask R-CNN
    cRT stage 2: named as another architecture, not reinit advice."""
    from mmengine.config import Config
    from mmdet.registry import MODELS
    from mmlt.engine.runner.decoupled_runner import (Stage1MismatchError,
                                                     compare_with_checkpoint)
    from mmlt.engine.runner.freeze import compile_patterns
    ret = MODELS.build(Config.fromfile(osp.join(
        ROOT, 'configs/toy/retinanet_r18_fpn_toy_focal.py')).model)
    state = ret.state_dict()
    model = crt_runner.model
    reinit = compile_patterns(crt_runner.decoupled_cfg['reinit'], 'r')
    r = compare_with_checkpoint(model, state, reinit)
    # hand count: the backbone (ResNet-18) and the FPN parts of equal
    # shape fit; RPN, RoI box and mask heads are missing; RetinaNet's
    # head and its extra P6/P7 convs are unexpected
    fit = [n for n, p in model.named_parameters()
           if n in state and state[n].shape == p.shape
           and not n.startswith('roi_head.bbox_head.fc_cls')]
    assert r['matched'] == fit and all(
        n.startswith(('backbone.', 'neck.')) for n in fit)
    assert r['other_model']
    assert any(k.startswith('bbox_head.retina_cls') for k in r['unexpected'])
    assert any(k.startswith('rpn_head.') for k in r['missing'])
    ck = str(tmp_path / 'retinanet.pth')
    torch.save(dict(state_dict=state, meta={}), ck)
    crt_runner._loading_for_train = True
    try:
        with pytest.raises(Stage1MismatchError) as e:
            crt_runner.load_checkpoint(ck)
    finally:
        crt_runner._loading_for_train = False
    msg = str(e.value)
    assert f'{ck} is not a stage-1 checkpoint of this model' in msg
    assert f"holds {len(fit)} of the model's {len(r['params'])} parameter"\
        in msg
    assert re.search(r'in the checkpoint, not in the model \(%d\): .*'
                     r'bbox_head\.cls_convs' % len(r['unexpected']), msg)
    assert re.search(r'missing \(%d\): .*rpn_head\.' % len(r['missing']),
                     msg)
    assert 'decoupled.reinit` cannot fix this' in msg
    assert 'configs/toy/mask-rcnn_r18_fpn_toy_ce.py' in msg
    # the model's own (stage-1 layout) weights are not "another model"
    own = {k: v for k, v in model.state_dict().items()}
    assert not compare_with_checkpoint(model, own, reinit)['other_model']


@pytest.fixture(scope='module')
def loce_runner(tmp_path_factory):
    return _runner('configs/toy/loce/ebl.py',
                   tmp_path_factory.mktemp('loce'))


@pytest.mark.parametrize('stage1_config, error', [
    ('configs/toy/mask-rcnn_r18_fpn_toy_ce.py',
     r'was trained with a plain mask predictor \(model\.roi_head\.mask_head'
     r'\.type=FCNMaskHead\), but this config uses FCNNormMaskHead\(scale=20'
     r'\)'),
    ('configs/toy/loce/stage1.py', None),
])
def test_loce_stage2_needs_a_normed_mask_stage1(loce_runner, tmp_path,
                                                 stage1_config, error):
    """The keys of a plain and a normed mask head are the same; the config
    recorded in the checkpoint tells them apart."""
    from mmengine.config import Config
    from mmlt.engine.runner.decoupled_runner import Stage1MismatchError
    text = Config.fromfile(osp.join(ROOT, stage1_config)).pretty_text
    ck = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=loce_runner.model.state_dict(),
                    meta=dict(cfg=text)), ck)
    loce_runner._loading_for_train = True
    try:
        if error is None:
            loce_runner.load_checkpoint(ck)
            return
        with pytest.raises(Stage1MismatchError, match=error) as e:
            loce_runner.load_checkpoint(ck)
    finally:
        loce_runner._loading_for_train = False
    msg = str(e.value)
    assert msg.startswith(f'{ck} was trained')
    assert 'The stage-1 config is configs/toy/loce/stage1.py' in msg
    assert 'ln -sfn' in msg and 'work_dirs/toy_loce/stage1.pth' in msg


def test_loce_normed_head_scale_and_missing_meta(tmp_path):
    from mmdet.registry import MODELS
    from mmengine.logging import MMLogger
    from mmlt.engine.runner.decoupled_runner import Stage1MismatchError
    head = MODELS.build(dict(type='FCNNormMaskHead', num_convs=1,
                             in_channels=8, conv_out_channels=8,
                             num_classes=3, scale=20.0))

    def ck(mask_head):
        roi = '' if mask_head is None else f', mask_head={mask_head}'
        return dict(meta=dict(cfg='model = dict(type="MaskRCNN", '
                              f'roi_head=dict(type="StandardRoIHead"{roi}))'))

    head.check_stage1_checkpoint(
        ck('dict(type="FCNNormMaskHead", scale=20.0)'), 'roi_head.mask_head',
        'a.pth')
    with pytest.raises(Stage1MismatchError,
                       match=r'a\.pth was trained with model\.roi_head\.'
                       r'mask_head\.scale=10, this config uses '
                       r'FCNNormMaskHead\(scale=20\).*ADVICE'):
        head.check_stage1_checkpoint(
            ck('dict(type="FCNNormMaskHead", scale=10.0)'),
            'roi_head.mask_head', 'a.pth', advice='ADVICE')
    with pytest.raises(Stage1MismatchError,
                       match='was trained without a mask head'):
        head.check_stage1_checkpoint(ck(None), 'roi_head.mask_head', 'a.pth')
    # no config recorded (e.g. a converted checkpoint): a warning only
    logger = MMLogger.get_instance('clear_errors_test')
    records = []
    logger.warning = records.append
    head.check_stage1_checkpoint(dict(meta={}), 'roi_head.mask_head', 'b.pth')
    assert records and 'b.pth records no config' in records[0]


@pytest.mark.parametrize('tool, args', [
    ('compare_runs.py', ['{tmp}/no_such_work_dir']),
    ('plot_loss_state.py', ['{tmp}/no_such.pth', '--stats-file', '{tmp}/s']),
])
def test_analysis_tools_exit_2(tmp_path, tool, args):
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'analysis', tool)] +
        [a.format(tmp=tmp_path) for a in args],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f'{tool}: error: ') and str(
        tmp_path / 'no_such') in proc.stderr


def test_train_py_missing_stage1_is_one_message(tmp_path):
    """tools/train.py on a stage 2 without its stage-1 checkpoint: the
    advice as one error line, no traceback."""
    import subprocess
    import sys
    ckpt = tmp_path / 'nope' / 'stage1.pth'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/toy/decoupled/crt.py',
         '--work-dir', str(tmp_path / 'w'), '--cfg-options',
         f'load_from={ckpt}'], cwd=ROOT, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: configs/toy/decoupled/crt.py is a '
                           'decoupled stage 2'), last
    assert 'configs/toy/mask-rcnn_r18_fpn_toy_ce.py' in last
