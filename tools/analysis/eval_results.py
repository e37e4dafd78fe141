#!/usr/bin/env python
"""Evaluate saved predictions with a config's test metric, no inference.

Inputs:

* the ``.pkl`` that ``tools/test.py --out`` writes (mmdet's
  ``DumpDetResults``: one dict per image with ``img_id``, ``ori_shape``
  and ``pred_instances`` = ``bboxes`` (xyxy), ``scores``, ``labels`` and,
  for mask models, ``masks`` as RLE);
* or LVIS/COCO-style results json (``[{image_id, category_id, bbox (xywh),
  score[, segmentation]}]``, e.g. mmdet's ``<prefix>.bbox.json`` and
  ``<prefix>.segm.json``), from mmlt or other code.

The config's ``test_evaluator`` (``LongTailLVISMetric`` with either
backend, ``GroupedAPMetric``, ``MultiLabelMetric`` or mmdet's COCO/LVIS
metrics) evaluates them exactly as ``tools/test.py`` would have: same
numbers, tables and per-class files. Before that the file is checked
against the config's test dataset (image ids, number of images, label
range, image sizes, masks when ``segm`` is asked for) with errors that name
the file and the field.

    python tools/analysis/eval_results.py CONFIG preds.pkl \
        [--eval bbox segm] [--backend lvis] [--cfg-options ...]
"""
import argparse
import json
import logging
import os
import os.path as osp
import pickle
import sys
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# runnable as a script from any folder of a source checkout
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import mmlt  # noqa: E402,F401
from mmlt.utils.launch import IOU_TYPES, load_config  # noqa: E402

DUMP_TYPES = ('DumpDetResults', 'DumpResults')


class PredictionFileError(ValueError):
    """The prediction file does not fit the config or is malformed."""


# ------------------------------------------------------------------ args
def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Evaluate a saved prediction file (tools/test.py --out '
        'pkl, or LVIS/COCO results json) with the config\'s test metric')
    parser.add_argument('config', help='the config the predictions were '
                        'made with (its test dataset and test_evaluator)')
    parser.add_argument(
        'preds', nargs='+',
        help='tools/test.py --out .pkl, or one or two results .json '
        '(boxes; and/or masks as `segmentation`)')
    parser.add_argument(
        '--eval', nargs='+', metavar='TYPE',
        help=f'iou types to evaluate ({" ".join(IOU_TYPES)}); default: the '
        "config's metric list")
    parser.add_argument(
        '--backend', choices=['fast', 'lvis'],
        help="LongTailLVISMetric backend: 'fast' (faster-coco-eval) or "
        "'lvis' (lvis-api); default: the config's")
    parser.add_argument('--work-dir',
                        help='where per-class AP json/plots go (default: '
                        'as tools/test.py, ./work_dirs/<config name>)')
    parser.add_argument('--out-json',
                        help='also write the metrics (full precision) here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys; pass the ones the predictions were '
        'made with (e.g. test_dataloader.dataset.indices=...)')
    args = parser.parse_args(argv)
    if args.eval:
        bad = [t for t in args.eval if t not in IOU_TYPES]
        if bad:
            parser.error(f'--eval: unknown iou type(s) {bad}; choose from '
                         f'{", ".join(IOU_TYPES)}')
    exts = {osp.splitext(p)[1].lower() for p in args.preds}
    if exts <= {'.pkl', '.pickle'}:
        if len(args.preds) != 1:
            parser.error('give one .pkl prediction file')
    elif exts == {'.json'}:
        if len(args.preds) > 2:
            parser.error('give at most two results .json files (boxes, '
                         'masks)')
    else:
        parser.error(f'prediction files must be one .pkl or .json files, '
                     f'got {args.preds}')
    return args


# ------------------------------------------------------------- loading
def load_pkl(path: str) -> list:
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist; write it with tools/test.py CONFIG '
            'CHECKPOINT --out preds.pkl')
    try:
        with open(path, 'rb') as f:
            data = pickle.load(f)
    except Exception as e:  # pickle raises many types on garbage
        raise PredictionFileError(
            f'{path} is not a readable pickle ({type(e).__name__}: {e})'
        ) from e
    if not isinstance(data, list):
        raise PredictionFileError(
            f'{path} holds a {type(data).__name__}; tools/test.py --out '
            'writes a list with one dict per image')
    for i, s in enumerate(data):
        if not isinstance(s, dict):
            raise PredictionFileError(
                f'{path}[{i}] is a {type(s).__name__}, expected the dict of '
                'one data sample (tools/test.py --out)')
    return data


def load_json(path: str) -> list:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist')
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PredictionFileError(f'{path} is not a JSON file ({e})') from e
    if not isinstance(data, list):
        raise PredictionFileError(
            f'{path} holds a JSON {type(data).__name__}; LVIS/COCO results '
            'are a list of {image_id, category_id, bbox, score'
            '[, segmentation]}')
    for i, d in enumerate(data):
        missing = [k for k in ('image_id', 'category_id', 'score')
                   if not isinstance(d, dict) or k not in d]
        if missing:
            raise PredictionFileError(
                f'{path}[{i}] has no {missing}; LVIS/COCO results need '
                'image_id, category_id, score and bbox and/or segmentation')
        if 'bbox' not in d and 'segmentation' not in d:
            raise PredictionFileError(
                f'{path}[{i}] has neither bbox nor segmentation')
    return data


def _np(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


# ------------------------------------------------------------- checks
def _dataset_images(dataset) -> List[dict]:
    """``img_id``, ``height``, ``width`` of every image, in order."""
    out = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        out.append(dict(img_id=info.get('img_id'),
                        height=info.get('height'),
                        width=info.get('width'),
                        img_path=info.get('img_path')))
    return out


def _describe_ids(ids) -> str:
    ids = sorted(ids, key=str)
    return f'{len(ids)} (e.g. {ids[:5]})'


def check_out_meta(path: str, images: Sequence[dict],
                   classes: Sequence[str], config: str) -> None:
    """Compare ``<pkl>.meta.json`` (written by tools/test.py --out: class
    names, number of images, the config and --cfg-options of the test run)
    with the config's test dataset. Older dumps or mmdet's have none."""
    from mmengine.logging import print_log
    meta_file = path + '.meta.json'
    if not osp.isfile(meta_file):
        print_log(f'{meta_file} not found (not written by mmlt\'s '
                  'tools/test.py --out): class names cannot be compared; '
                  'image ids and label range are still checked',
                  logger='current', level=logging.WARNING)
        return
    with open(meta_file) as f:
        meta = json.load(f)
    made = (f' (the predictions were made with {meta.get("config")}'
            + (' --cfg-options ' + ' '.join(meta['cfg_options'])
               if meta.get('cfg_options') else '') + ')')
    want = meta.get('classes')
    if want and classes and list(want) != list(classes):
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(want, classes))
                if a != b]
        raise PredictionFileError(
            f'{meta_file}: classes of the predictions ({len(want)}) differ '
            f'from those of the test dataset of {config} ({len(classes)})'
            + (f', e.g. label {diff[0][0]}: {diff[0][1]!r} vs '
               f'{diff[0][2]!r}' if diff else '') + made)
    n = meta.get('num_images')
    if n is not None and n != len(images):
        raise PredictionFileError(
            f'{meta_file}: the predictions are of {n} images, the test '
            f'dataset of {config} has {len(images)}' + made)


def check_sample_ids(samples: Sequence[dict], images: Sequence[dict],
                     path: str, config: str) -> None:
    """Same images as the config's test dataset, each exactly once."""
    hint = ('; evaluate with the config and --cfg-options the predictions '
            'were made with (e.g. the same test_dataloader.dataset.indices '
            'and data_root)')
    if len(samples) != len(images):
        raise PredictionFileError(
            f'{path} has predictions for {len(samples)} images, but the test '
            f'dataset of {config} has {len(images)}' + hint)
    if any('img_id' not in s for s in samples):
        i = next(i for i, s in enumerate(samples) if 'img_id' not in s)
        raise PredictionFileError(f'{path}[{i}] has no img_id')
    counts = Counter(s['img_id'] for s in samples)
    dup = [k for k, n in counts.items() if n > 1]
    if dup:
        raise PredictionFileError(
            f'{path}: img_id of {_describe_ids(dup)} images occurs more than '
            'once (predictions of two runs concatenated?)')
    want = {im['img_id'] for im in images}
    extra = set(counts) - want
    if extra:
        raise PredictionFileError(
            f'{path}: img_id of {_describe_ids(extra)} predictions are not '
            f'images of the test dataset of {config}' + hint)


def check_det_samples(samples: Sequence[dict], images: Sequence[dict],
                      num_classes: int, need_masks: bool, path: str,
                      config: str) -> None:
    """Fields, shapes, label range and image sizes of dumped detections."""
    size_of = {im['img_id']: (im['height'], im['width']) for im in images}
    for i, s in enumerate(samples):
        where = f'{path}[{i}] (img_id {s.get("img_id")})'
        pred = s.get('pred_instances')
        if not isinstance(pred, dict):
            raise PredictionFileError(
                f'{where} has no pred_instances dict; is {path} a '
                'tools/test.py --out file of a detector?')
        missing = [k for k in ('bboxes', 'scores', 'labels') if k not in pred]
        if missing:
            raise PredictionFileError(
                f'{where}: pred_instances has no {missing}')
        bboxes = _np(pred['bboxes'])
        n = len(_np(pred['scores']))
        labels = _np(pred['labels'])
        if bboxes.ndim != 2 or bboxes.shape[1] != 4 or len(bboxes) != n \
                or len(labels) != n:
            raise PredictionFileError(
                f'{where}: pred_instances.bboxes has shape {bboxes.shape}, '
                f'scores {n} and labels {len(labels)} entries; expected '
                '(N, 4), N, N')
        if n and (labels.min() < 0 or labels.max() >= num_classes):
            raise PredictionFileError(
                f'{where}: pred_instances.labels range over '
                f'[{labels.min()}, {labels.max()}], but the test dataset of '
                f'{config} has {num_classes} classes (predictions of a model '
                'with another class list?)')
        ori = s.get('ori_shape')
        hw = size_of.get(s['img_id'])
        if ori is not None and hw is not None and None not in hw and \
                tuple(int(v) for v in ori[:2]) != tuple(int(v) for v in hw):
            raise PredictionFileError(
                f'{where}: ori_shape {tuple(ori[:2])} differs from the '
                f'image size {hw} (height, width) in the test dataset of '
                f'{config}; predictions of other images?')
        if need_masks:
            if 'masks' not in pred:
                raise PredictionFileError(
                    f'{where}: pred_instances has no masks, but segm is to '
                    'be evaluated; the model predicted boxes only: use '
                    '--eval bbox')
            masks = pred['masks']
            if len(masks) != n:
                raise PredictionFileError(
                    f'{where}: {len(masks)} masks for {n} boxes')
            if n and hw is not None and None not in hw:
                size = tuple(masks[0].get('size', ())) if isinstance(
                    masks[0], dict) else None
                if size != tuple(hw):
                    raise PredictionFileError(
                        f'{where}: masks are RLE of size {size}, the image '
                        f'is {hw} (height, width)')


def pkl_to_det_results(samples: Sequence[dict]) -> List[Tuple[dict, dict]]:
    """``(gt, pred)`` pairs exactly as mmdet's CocoMetric/LVISMetric
    ``process`` stores them (masks are already RLE in the dump, which is
    why ``Evaluator.offline_evaluate`` fails on them)."""
    out = []
    for s in samples:
        pred = s['pred_instances']
        result = dict(img_id=s['img_id'],
                      bboxes=_np(pred['bboxes']),
                      scores=_np(pred['scores']),
                      labels=_np(pred['labels']))
        if 'masks' in pred:
            # results2json decodes bytes counts in place: copy the dicts
            result['masks'] = [dict(m) for m in pred['masks']]
        if 'mask_scores' in pred:
            result['mask_scores'] = _np(pred['mask_scores'])
        h, w = s['ori_shape'][:2]
        gt = dict(width=w, height=h, img_id=s['img_id'])
        out.append((gt, result))
    return out


def split_json_files(paths: Sequence[str]) -> Dict[str, Tuple[str, list]]:
    """``{'bbox': (path, dets), 'segm': (path, dets)}`` from 1-2 json files:
    a file whose detections carry ``segmentation`` serves segm, a file with
    ``bbox`` serves bbox (a box-only file preferred)."""
    loaded = [(p, load_json(p)) for p in paths]
    out = {}
    for p, dets in loaded:
        if dets and all('segmentation' in d for d in dets):
            if 'segm' in out:
                raise PredictionFileError(
                    f'{out["segm"][0]} and {p} both hold masks; give one '
                    'box and one mask file')
            out['segm'] = (p, dets)
    box_files = [(p, d) for p, d in loaded
                 if d and all('bbox' in x for x in d)]
    box_only = [(p, d) for p, d in box_files
                if not all('segmentation' in x for x in d)]
    if box_only:
        out['bbox'] = box_only[0]
    elif box_files:
        out['bbox'] = box_files[0]
    if not out:
        # empty files: nothing detected
        out['bbox'] = loaded[0]
    return out


def check_json_dets(dets: Sequence[dict], images: Sequence[dict],
                    cat_ids: Sequence[int], path: str, config: str) -> None:
    want = {im['img_id'] for im in images}
    extra = {d['image_id'] for d in dets} - want
    if extra:
        raise PredictionFileError(
            f'{path}: image_id of {_describe_ids(extra)} detections are not '
            f'images of the test dataset of {config}; evaluate with the '
            'config and --cfg-options the predictions were made for')
    unknown = {d['category_id'] for d in dets} - set(cat_ids)
    if unknown:
        raise PredictionFileError(
            f'{path}: category_id {_describe_ids(unknown)} are not '
            f'categories of the model/dataset of {config}')
    for i, d in enumerate(dets):
        if 'bbox' in d and len(d['bbox']) != 4:
            raise PredictionFileError(
                f'{path}[{i}].bbox has {len(d["bbox"])} values; expected '
                '[x, y, w, h]')


def json_to_det_results(files: dict, images: Sequence[dict],
                        cat_ids: Sequence[int]) -> List[Tuple[dict, dict]]:
    """``(gt, pred)`` for every test image (boxes as xyxy arrays, for the
    metrics that read them directly, e.g. ``proposal_fast``)."""
    label_of = {c: i for i, c in enumerate(cat_ids)}
    dets = (files.get('bbox') or files['segm'])[1]
    by_img: Dict[int, list] = {}
    for d in dets:
        by_img.setdefault(d['image_id'], []).append(d)
    out = []
    for im in images:
        ds = by_img.get(im['img_id'], [])
        boxes = np.array([d['bbox'] for d in ds if 'bbox' in d],
                         dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        pred = dict(img_id=im['img_id'], bboxes=boxes,
                    scores=np.array([d['score'] for d in ds], np.float64),
                    labels=np.array([label_of[d['category_id']] for d in ds],
                                    np.int64))
        gt = dict(width=im['width'], height=im['height'],
                  img_id=im['img_id'])
        out.append((gt, pred))
    return out


# ----------------------------------------------------------- evaluation
def _metric_iou_types(metric) -> List[str]:
    metrics = getattr(metric, 'metrics', None)
    if metrics is None:
        return []
    return [metrics] if isinstance(metrics, str) else list(metrics)


def evaluate_predictions(cfg, config: str, preds: Sequence[str],
                         backend: Optional[str] = None) -> Dict[str, float]:
    """Evaluate ``preds`` (a pkl or results json files) with every metric
    of ``cfg.test_evaluator``; returns the metrics as tools/test.py logs
    them (``lvis/bbox_AP``, ...)."""
    from mmdet.evaluation.metrics import CocoMetric
    from mmdet.registry import DATASETS, METRICS
    from mmengine.logging import print_log
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    ev_cfgs = cfg.get('test_evaluator')
    if ev_cfgs is None:
        raise ValueError(f'{config} has no test_evaluator')
    if not isinstance(ev_cfgs, (list, tuple)):
        ev_cfgs = [ev_cfgs]
    ev_cfgs = [c for c in ev_cfgs
               if str(c.get('type')).split('.')[-1] not in DUMP_TYPES]
    if not ev_cfgs:
        raise ValueError(f'{config}: test_evaluator has no metric besides '
                         'result dumping')
    if backend is not None:
        lvis = [c for c in ev_cfgs
                if str(c.get('type')).split('.')[-1] == 'LongTailLVISMetric']
        if not lvis:
            raise ValueError(
                f'--backend applies to LongTailLVISMetric, which the '
                f'test_evaluator of {config} does not use')
        for c in lvis:
            c['backend'] = backend

    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    images = _dataset_images(dataset)
    classes = dataset.metainfo.get('classes') or ()
    is_pkl = preds[0].lower().endswith(('.pkl', '.pickle'))
    samples = load_pkl(preds[0]) if is_pkl else None
    json_files = None if is_pkl else split_json_files(preds)
    if is_pkl:
        check_out_meta(preds[0], images, classes, config)
        check_sample_ids(samples, images, preds[0], config)

    results: Dict[str, float] = OrderedDict()
    for ev_cfg in ev_cfgs:
        metric = METRICS.build(ev_cfg)
        metric.dataset_meta = dataset.metainfo
        name = type(metric).__name__
        if isinstance(metric, CocoMetric):
            iou_types = _metric_iou_types(metric)
            if is_pkl:
                check_det_samples(samples, images, len(classes),
                                  'segm' in iou_types, preds[0], config)
                pairs = pkl_to_det_results(samples)
            else:
                pairs = _json_pairs(metric, json_files, images, iou_types,
                                    config)
            metric.results = pairs
        elif is_pkl:
            # metrics whose process() reads the dumped dicts as they are
            # (MultiLabelMetric: pred_score, gt_label)
            try:
                metric.process({}, samples)
            except (KeyError, AttributeError, TypeError) as e:
                raise PredictionFileError(
                    f'{name} of {config} cannot read the samples of '
                    f'{preds[0]} ({type(e).__name__}: {e})') from e
            _check_multilabel(metric, samples, len(classes), preds[0],
                              config)
        else:
            raise PredictionFileError(
                f'{name} of {config} evaluates data samples; give the '
                'tools/test.py --out .pkl, not results json')
        print_log(f'{name}: evaluating {", ".join(preds)}',
                  logger='current')
        results.update(metric.evaluate(len(metric.results)))
    return results


def _check_multilabel(metric, samples, num_classes, path, config):
    res = getattr(metric, 'results', [])
    for i, r in enumerate(res):
        if isinstance(r, tuple) and len(r) == 2 and num_classes and \
                np.asarray(r[0]).shape[-1] != num_classes:
            raise PredictionFileError(
                f'{path}[{i}].pred_score has {np.asarray(r[0]).shape[-1]} '
                f'classes, the test dataset of {config} {num_classes}')


def _json_pairs(metric, json_files, images, iou_types, config):
    cat_ids = list(metric._label_to_cat_id())
    if 'segm' in iou_types and 'segm' not in json_files:
        raise PredictionFileError(
            f'segm is to be evaluated but no results json has '
            f'`segmentation` ({", ".join(p for p, _ in json_files.values())}'
            '); use --eval bbox')
    if any(t in iou_types for t in ('bbox', 'proposal', 'proposal_fast')) \
            and 'bbox' not in json_files:
        raise PredictionFileError(
            'bbox is to be evaluated but no results json has `bbox` for '
            'every detection; use --eval segm')
    for path, dets in json_files.values():
        check_json_dets(dets, images, cat_ids, path, config)
    paths = {k: v[0] for k, v in json_files.items()}
    paths.setdefault('proposal', paths.get('bbox'))

    # hand the user's files to the metric's evaluation unchanged (no
    # xywh -> xyxy -> xywh round trip)
    def results2json(preds, outfile_prefix):
        return {k: v for k, v in paths.items() if v is not None}

    metric.results2json = results2json
    return json_to_det_results(json_files, images, cat_ids)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger, print_log
    args.launcher, args.local_rank = 'none', 0
    try:
        cfg = load_config(args)
    except ValueError as e:  # e.g. --eval on a metric without iou types
        raise SystemExit(f'error: {e}') from e
    logger = MMLogger.get_instance('mmlt_eval_results', log_level='INFO')
    logger.setLevel(logging.INFO)
    results = evaluate_predictions(cfg, args.config, args.preds,
                                   backend=args.backend)
    lines = '\n'.join(f'{k}: {v!r}' for k, v in results.items())
    print_log('metrics of ' + ', '.join(args.preds) + ':\n' + lines,
              logger='current')
    if args.out_json:
        d = osp.dirname(osp.abspath(args.out_json))
        os.makedirs(d, exist_ok=True)
        with open(args.out_json, 'w') as f:
            json.dump(results, f, indent=1, default=float)
        print(f'metrics saved to {osp.abspath(args.out_json)}')
    return results


def _user_errors() -> tuple:
    errors = [PredictionFileError, FileNotFoundError]
    try:  # mmlt's invalid-detection check (NaN scores, x2 < x1, ...)
        from mmlt.evaluation.validate import InvalidDetectionsError
        errors.append(InvalidDetectionsError)
    except ImportError:
        pass
    return tuple(errors)


if __name__ == '__main__':
    try:
        main()
    except _user_errors() as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
