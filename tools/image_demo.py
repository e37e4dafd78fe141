#!/usr/bin/env python
"""Draw a detector's predictions on images (an mmlt config + checkpoint).

    python tools/image_demo.py IMG_OR_DIR CONFIG CHECKPOINT \
        [--out-dir demo_out] [--score-thr 0.3] [--device cpu]

For every input image it writes ``OUT_DIR/<name>`` (boxes, masks when the
model has a mask head, class names and scores) and ``OUT_DIR/<name>.json``
(the detections above ``--score-thr``: label, class name, score, xyxy box).

Scores are the ones the model's own test path produces, as in
``tools/test.py``: softmax over the C + 1 logits for cross-entropy heads,
the loss's ``get_activation`` where a loss defines one (EQL, EQLv2: sigmoid;
BAGS: group softmax) and sigmoid for one-stage heads with
``loss_cls.use_sigmoid=True`` (focal, EFL, QFL); the tool prints which.
Class names come from the checkpoint's ``meta.dataset_meta`` (written by
mmengine's runner), else from the config's test dataset.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
# transforms of the test pipeline that need annotations
GT_TRANSFORMS = ('LoadAnnotations', 'LoadPanopticAnnotations',
                 'LoadProposals')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Draw detections of an mmlt model on images')
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='demo_out',
                        help='where the drawn images and json go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw and save detections scoring at least this')
    parser.add_argument('--device', default='cpu',
                        help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    args = parser.parse_args(argv)
    if not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    return args


def list_images(inputs: str) -> List[str]:
    """The image files of ``inputs`` (a file, or a folder, sorted)."""
    if osp.isfile(inputs):
        return [inputs]
    if not osp.isdir(inputs):
        raise FileNotFoundError(f'{inputs} is neither an image file nor a '
                                'folder')
    files = sorted(
        osp.join(inputs, f) for f in os.listdir(inputs)
        if f.lower().endswith(IMG_EXTS)
        and osp.isfile(osp.join(inputs, f)))
    if not files:
        raise FileNotFoundError(
            f'{inputs} holds no image ({", ".join(IMG_EXTS)})')
    return files


def _head_num_classes(model) -> Optional[int]:
    roi_head = getattr(model, 'roi_head', None)
    head = getattr(roi_head, 'bbox_head', None) if roi_head is not None \
        else getattr(model, 'bbox_head', None)
    if isinstance(head, (list, tuple)) or hasattr(head, '__getitem__'):
        head = head[-1]
    return getattr(head, 'num_classes', None)


def score_activation(model) -> str:
    """How the model turns classifier logits into the scores it reports."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is not None and getattr(roi_head, 'bbox_head', None) \
            is not None:
        head = roi_head.bbox_head
        if hasattr(head, '__getitem__'):
            head = head[-1]
        loss = getattr(head, 'loss_cls', None)
        if getattr(head, 'custom_activation', False):
            return f'{type(loss).__name__}.get_activation'
        return 'softmax over C + 1 logits'
    head = getattr(model, 'bbox_head', None)
    if head is not None and hasattr(head, 'use_sigmoid_cls'):
        return 'sigmoid' if head.use_sigmoid_cls else 'softmax'
    return 'the head\'s own'


def _dataset_classes(cfg) -> Sequence[str]:
    from mmdet.registry import DATASETS
    ds_cfg = cfg.test_dataloader.dataset
    try:
        dataset = DATASETS.build(ds_cfg)
    except Exception as e:
        raise RuntimeError(
            'the checkpoint has no class names (meta.dataset_meta.classes) '
            "and the config's test dataset cannot be built to take them "
            f'from ({type(e).__name__}: {e}); fix its paths with '
            '--cfg-options') from e
    return dataset.metainfo.get('classes')


def init_model(config: str, checkpoint: str, device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """Model in eval mode with ``dataset_meta`` (classes, palette) and
    ``cfg``; class names checked against the head's ``num_classes``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    import mmlt  # noqa: F401
    from mmdet.registry import MODELS
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config} does not exist')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    # the checkpoint holds every weight: no pretrained download
    if 'init_cfg' in cfg.model.get('backbone', {}):
        cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    from mmdet.models.detectors import BaseDetector
    if not isinstance(model, BaseDetector):
        raise ValueError(
            f'{config}: the model ({type(model).__name__}) is not a '
            'detector; image_demo.py draws detections')
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu',
                           logger='silent')
    meta = (ckpt.get('meta') or {}).get('dataset_meta') or {}
    meta = {k.lower(): v for k, v in meta.items()}
    if not meta.get('classes'):
        meta['classes'] = _dataset_classes(cfg)
    classes = meta['classes']
    n = _head_num_classes(model)
    if n is not None and classes is not None and len(classes) != n:
        raise ValueError(
            f'{checkpoint}: {len(classes)} class names but the model of '
            f'{config} has num_classes={n}; the checkpoint and the config '
            'are of different class lists')
    meta.setdefault('palette', 'random')
    model.dataset_meta = meta
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model


def build_pipeline(cfg):
    """The config's test pipeline without the transforms that need GT."""
    from mmcv.transforms import Compose
    steps = [t for t in cfg.test_dataloader.dataset.pipeline
             if str(t['type']).split('.')[-1] not in GT_TRANSFORMS]
    return Compose(steps)


def predict(model, img_path: str, pipeline=None):
    """The model's DetDataSample for one image file."""
    import torch
    pipeline = pipeline or build_pipeline(model.cfg)
    data = pipeline(dict(img_path=img_path, img_id=0))
    batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    with torch.no_grad():
        return model.test_step(batch)[0]


def detections(sample, classes: Sequence[str],
               score_thr: float) -> List[Dict]:
    """Detections of ``sample`` scoring >= ``score_thr``, best first."""
    pred = sample.pred_instances
    scores = pred.scores.detach().cpu().numpy()
    labels = pred.labels.detach().cpu().numpy()
    boxes = pred.bboxes.detach().cpu().numpy()
    out = []
    for i in np.argsort(-scores, kind='stable'):
        if scores[i] < score_thr:
            continue
        label = int(labels[i])
        out.append(dict(label=label, class_name=str(classes[label]),
                        score=float(scores[i]),
                        bbox=[float(v) for v in boxes[i]]))
    return out


def run_demo(inputs: str, config: str, checkpoint: str,
             out_dir: str = 'demo_out', score_thr: float = 0.3,
             device: str = 'cpu', cfg_options: Optional[dict] = None,
             model=None) -> Dict[str, List[Dict]]:
    """Draw and save the detections of every image of ``inputs``; returns
    ``{output image path: detections}``."""
    import mmcv
    from mmdet.visualization import DetLocalVisualizer

    files = list_images(inputs)
    if model is None:
        model = init_model(config, checkpoint, device, cfg_options)
    classes = model.dataset_meta['classes']
    pipeline = build_pipeline(model.cfg)
    vis = DetLocalVisualizer(name=f'mmlt_demo_{id(model)}')
    vis.dataset_meta = model.dataset_meta
    os.makedirs(out_dir, exist_ok=True)
    print(f'{len(files)} image(s), {len(classes)} classes, scores: '
          f'{score_activation(model)}, drawn at score >= {score_thr}')
    results = {}
    for path in files:
        sample = predict(model, path, pipeline)
        img = mmcv.imread(path, channel_order='rgb')
        name = osp.basename(path)
        out_file = osp.join(out_dir, name)
        vis.add_datasample(name, img, data_sample=sample, draw_gt=False,
                           show=False, out_file=out_file,
                           pred_score_thr=score_thr)
        dets = detections(sample, classes, score_thr)
        with open(out_file + '.json', 'w') as f:
            json.dump(dict(image=osp.abspath(path), score_thr=score_thr,
                           activation=score_activation(model),
                           detections=dets), f, indent=1)
        top = ', '.join(f'{d["class_name"]} {d["score"]:.3f}'
                        for d in dets[:3])
        print(f'{out_file}: {len(dets)} detection(s)'
              + (f' (top: {top})' if top else ''))
        results[out_file] = dets
    return results


def main(argv=None):
    args = parse_args(argv)
    try:
        run_demo(args.inputs, args.config, args.checkpoint, args.out_dir,
                 args.score_thr, args.device, args.cfg_options)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
