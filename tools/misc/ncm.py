#!/usr/bin/env python
"""Nearest-class-mean classifier from a stage-1 checkpoint (Kang et al.,
ICLR 2020; the NCM baseline of BAGS): compute per-class mean RoI features
over the training set and write a checkpoint for ``NCMBBoxHead``.

    python tools/misc/ncm.py configs/toy/decoupled/ncm_fc.py STAGE1.pth \\
        --feature fc --out work_dirs/ncm/ncm_fc.pth [--max-images N]
    ./tools/dist_test.sh configs/toy/decoupled/ncm_fc.py \\
        work_dirs/ncm/ncm_fc.pth 2 --eval bbox segm

CONFIG is the NCM test config (or any Mask/Faster R-CNN config with a
Shared2FC bbox head: its head is swapped for ``NCMBBoxHead``). For every
training image (test-time resize, no flip; ``indices`` of the train set
honoured, wrappers such as RFS / class-aware sampling / tail subsets are
unwrapped, so every image counts once):

* foreground: the RoI features of the **ground-truth boxes** -> the mean of
  each class;
* background: the RoIs that stage 1 trained its background logit on: RPN
  proposals (``train_cfg.rpn_proposal``) assigned by ``train_cfg.rcnn``'s
  assigner (max-IoU: IoU < 0.5 with every GT box = negative) and drawn by
  its sampler (seeded; LVIS R50: 512 RoIs, 25 % positive -> >= 384
  negatives per image; toy: 64 RoIs) -> the mean of row C.

Features are ``--feature fc`` (shared-fc output, the input of fc_cls) or
``conv`` (RoI-aligned FPN feature averaged over 7 x 7). The output is the
stage-1 state dict unchanged plus ``roi_head.bbox_head.class_means`` /
``class_counts``. Classes without a single training box get a warning and
count 0, i.e. probability 0 at test time. Single process (one GPU if there
is one, else CPU); the model and pass are inference-only, so a distributed
launch would not speed up the dominating image loading by much on LVIS
(run it once per stage-1 model).

A missing config or checkpoint (with the command that trains stage 1), an
unwritable ``--out`` or one equal to the checkpoint exit with status 2
before the pass; an existing ``--out`` is replaced (the tool says so).
"""
import argparse
import copy
import os
import os.path as osp
import sys
import warnings

import torch
from mmengine.config import Config, DictAction

HEAD = 'roi_head.bbox_head.'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='NCM class means from a '
                                'stage-1 checkpoint')
    p.add_argument('config', help='NCM (or stage-1) config')
    p.add_argument('checkpoint', help='stage-1 checkpoint')
    p.add_argument('--out', required=True, help='output checkpoint')
    p.add_argument('--feature', choices=('fc', 'conv'),
                   help="feature type (default: the config's, else fc)")
    p.add_argument('--max-images', type=int,
                   help='use only the first N training images')
    p.add_argument('--batch-size', type=int, default=2)
    p.add_argument('--num-workers', type=int, default=2)
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the background RoI sampler')
    p.add_argument('--device', default=None,
                   help='cuda / cpu (default: cuda if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, as in tools/train.py')
    return p.parse_args(argv)


def ncm_config(cfg: Config, feature):
    """Swap the bbox head for NCMBBoxHead; returns the feature type."""
    head = cfg.model.roi_head.bbox_head
    if isinstance(head, (list, tuple)):
        sys.exit('NCM supports single-stage R-CNN bbox heads '
                 '(Shared2FCBBoxHead); this config has a cascade of '
                 f'{len(head)} heads')
    if head.type not in ('Shared2FCBBoxHead', 'NCMBBoxHead'):
        sys.exit(f'NCM needs a Shared2FCBBoxHead, the config has '
                 f'{head.type} (model.roi_head.bbox_head.type)')
    if feature is None:
        feature = head.get('feature', 'fc') if head.type == 'NCMBBoxHead' \
            else 'fc'
    elif head.type == 'NCMBBoxHead' and head.get('feature', 'fc') != feature:
        print(f"note: the config's NCM head uses feature="
              f"{head.get('feature', 'fc')!r}; computing {feature!r} means "
              f'as asked (test with the {feature} config)')
    head.type = 'NCMBBoxHead'
    head.feature = feature
    return feature


def train_dataset_cfg(cfg: Config, max_images):
    """Innermost training dataset, test-time pipeline with GT boxes."""
    d = copy.deepcopy(cfg.train_dataloader.dataset)
    while 'ann_file' not in d and isinstance(d.get('dataset'), dict):
        d = d.dataset  # RepeatFactor / ClassAware / ClassSubset wrappers
    test_pipe = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    # GT boxes must be resized with the image: load them right after the
    # image (mmdet test pipelines load them after Resize, unscaled)
    pipe = []
    for t in test_pipe:
        if t['type'] == 'LoadAnnotations':
            continue
        pipe.append(t)
        if t['type'] == 'LoadImageFromFile':
            pipe.append(dict(type='LoadAnnotations', with_bbox=True))
    if not any(t['type'] == 'LoadAnnotations' for t in pipe):
        sys.exit('the test pipeline has no LoadImageFromFile step')
    d.pipeline = pipe
    d.test_mode = False
    if max_images:
        d.indices = int(max_images)
    return d


@torch.no_grad()
def extract(model, loader, acc, num_classes, seed):
    from mmdet.models.utils import unpack_gt_instances
    from mmdet.structures.bbox import bbox2roi, get_box_tensor
    from tqdm import tqdm
    roi_head, head = model.roi_head, model.roi_head.bbox_head
    proposal_cfg = model.train_cfg.get('rpn_proposal', model.test_cfg.rpn)
    torch.manual_seed(seed)
    for data in tqdm(loader, desc='NCM features', unit='batch'):
        data = model.data_preprocessor(data, False)
        samples = data['data_samples']
        x = model.extract_feat(data['inputs'])
        gts, gts_ignore, metas = unpack_gt_instances(samples)
        outs = model.rpn_head(x)
        proposals = model.rpn_head.predict_by_feat(
            *outs, batch_img_metas=metas, cfg=proposal_cfg, rescale=False)
        fg_boxes, fg_labels, bg_boxes = [], [], []
        for i, (gt, props) in enumerate(zip(gts, proposals)):
            fg_boxes.append(get_box_tensor(gt.bboxes))
            fg_labels.append(gt.labels)
            props.priors = props.pop('bboxes')
            assign = roi_head.bbox_assigner.assign(props, gt, gts_ignore[i])
            sampled = roi_head.bbox_sampler.sample(
                assign, props, gt, feats=[lvl[i][None] for lvl in x])
            bg_boxes.append(get_box_tensor(sampled.neg_priors))
        for boxes, labels in (
            (fg_boxes, torch.cat(fg_labels)),
            (bg_boxes, None),
        ):
            rois = bbox2roi(boxes)
            if not len(rois):
                continue
            feats = roi_head.bbox_roi_extractor(
                x[:roi_head.bbox_roi_extractor.num_inputs], rois)
            f = head.ncm_features(feats)
            if labels is None:
                labels = torch.full((len(f), ), num_classes, dtype=torch.long)
            acc.update(f, labels)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    from torch.utils.data import DataLoader

    import mmlt  # noqa: F401
    from mmdet.registry import DATASETS, MODELS
    from mmlt.models.roi_heads.ncm_bbox_head import ClassMeanAccumulator
    from mmlt.utils.ckpt_surgery import (CheckpointSurgeryError,
                                         load_checkpoint_file)

    from mmlt.utils.output_paths import (OutputPathError,
                                         check_writable_file, cli_error,
                                         writing)

    def fail(msg):
        sys.exit(cli_error(msg, 'ncm.py'))

    if not osp.isfile(args.config):
        fail(f'config {args.config} does not exist')
    # before the pass over the training set (hours on LVIS)
    if osp.abspath(args.out) == osp.abspath(args.checkpoint):
        fail(f'--out {args.out} is the input checkpoint; write the NCM '
             'checkpoint to another file')
    try:
        check_writable_file(args.out, 'output checkpoint')
    except OutputPathError as e:
        fail(e)
    if not osp.isfile(args.checkpoint):
        from mmlt.engine.runner.stage1 import stage1_advice
        fail(f'the stage-1 checkpoint {args.checkpoint} does not exist. ' +
             stage1_advice(args.config, args.checkpoint,
                           override='pass the path of a stage-1 checkpoint '
                           'you have'))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    feature = ncm_config(cfg, args.feature)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')

    try:
        ckpt = load_checkpoint_file(args.checkpoint)
    except (FileNotFoundError, CheckpointSurgeryError) as e:
        fail(e)
    state = ckpt['state_dict']
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing
               if k not in (HEAD + 'class_means', HEAD + 'class_counts')]
    if missing:
        from mmlt.engine.runner.stage1 import stage1_advice
        fail(f'{args.checkpoint} does not fit {args.config} (a checkpoint '
             f'of another model?): {len(missing)} keys missing, e.g. '
             f'{missing[:5]}{" ..." if len(missing) > 5 else ""}. ' +
             stage1_advice(args.config, args.checkpoint,
                           override='pass the stage-1 checkpoint of this '
                           'model'))
    if unexpected:
        warnings.warn(f'ignoring {len(unexpected)} checkpoint keys the model '
                      f'does not have: {unexpected[:5]}')
    model.to(device).eval()
    head = model.roi_head.bbox_head
    if model.train_cfg is None or not hasattr(model.roi_head,
                                              'bbox_sampler'):
        sys.exit('the config has no model.train_cfg.rcnn assigner/sampler, '
                 'needed to draw the background RoIs')

    dataset = DATASETS.build(train_dataset_cfg(cfg, args.max_images))
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        shuffle=False,
        collate_fn=pseudo_collate)
    num_classes = head.num_classes
    acc = ClassMeanAccumulator(num_classes + 1, head.feat_dim)
    print(f'NCM ({feature} features, D={head.feat_dim}) over {len(dataset)} '
          f'training images on {device}')
    extract(model, loader, acc, num_classes, args.seed)

    counts = acc.counts
    if counts[num_classes] == 0:
        sys.exit('no background RoI was sampled; check train_cfg.rcnn')
    if counts[:num_classes].sum() == 0:
        sys.exit('no ground-truth box was found in the training images')
    absent = torch.nonzero(counts[:num_classes] == 0).flatten().tolist()
    if absent:
        classes = dataset.metainfo.get('classes') or []
        names = [classes[i] if i < len(classes) else str(i)
                 for i in absent[:10]]
        warnings.warn(
            f'{len(absent)} of {num_classes} classes have no training box in '
            f'the images used ({names}{" ..." if len(absent) > 10 else ""}); '
            'they keep count 0 and get probability 0 at test time'
            + (' (--max-images limits the images)' if args.max_images else
               ''))
    out_state = dict(state)
    out_state[HEAD + 'class_means'] = acc.means()
    out_state[HEAD + 'class_counts'] = counts.clone()
    meta = dict(ckpt.get('meta') or {})
    meta['ncm'] = dict(
        feature=feature,
        dim=head.feat_dim,
        num_images=len(dataset),
        fg_boxes=int(counts[:num_classes].sum()),
        bg_rois=int(counts[num_classes]),
        classes_without_mean=absent,
        source=osp.abspath(args.checkpoint),
        config=osp.abspath(args.config))
    replaced = osp.exists(args.out)
    try:
        with writing(args.out, 'output checkpoint'):
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            torch.save({'meta': meta, 'state_dict': out_state}, args.out)
    except OutputPathError as e:
        fail(e)
    print(f'{num_classes - len(absent)} class means + background mean '
          f'({int(counts[:num_classes].sum())} GT boxes, '
          f'{int(counts[num_classes])} background RoIs) -> {args.out}' +
          (' (replaced the existing file)' if replaced else ''))


if __name__ == '__main__':
    main()
