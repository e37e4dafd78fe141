"""Multi-label classification metric of the Distribution-Balanced loss
paper: per-class average precision on image-level scores, mAP overall and
per head / medium / tail split (>= 100, 20-99, < 20 training images), and
micro / macro F1 at a score threshold.

AP is scikit-learn's ``average_precision_score`` (the original's
``tools/test.py``): the area under the step precision-recall curve,
``sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds, no
interpolation; tied scores form one threshold. F1 is sklearn's
``f1_score`` with ``average='micro'/'macro'`` on ``score > thr``
(``thr = 0.5``: the original's ``logit > 0``), a class with no positive
and no prediction counting 0 in the macro mean (sklearn's default).

Difference from the original: classes without a positive test image have
no AP and are left out of the means (sklearn would give them AP 0 with a
warning); the number left out is logged. Every COCO/VOC test class has
positives, so the reported numbers are the same.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.fileio import load
from mmengine.logging import print_log

from mmdet.registry import METRICS
from mmlt.datasets.class_stats import (SPLITS, AnnotationError,
                                       get_multilabel_stats, multilabel_split)
from ..validate import check_policy, validate_scores
from .lvis_metric import format_table

__all__ = [
    'MultiLabelMetric', 'average_precision', 'per_class_ap', 'f1_scores',
    'multilabel_summary'
]


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """sklearn's average precision of one class (NaN without positives)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1) > 0
    npos = int(labels.sum())
    if npos == 0:
        return float('nan')
    order = np.argsort(-scores, kind='mergesort')
    s, y = scores[order], labels[order]
    # last index of each run of equal scores = one threshold
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[ends]
    precision = tps / (ends + 1)
    recall = tps / npos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_class_ap(scores: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """AP of each column, float64[C] (NaN for classes without positives)."""
    return np.array([average_precision(scores[:, c], gt[:, c])
                     for c in range(gt.shape[1])])


def f1_scores(pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
    """Micro and macro F1 of 0/1 predictions (sklearn's definitions)."""
    pred = np.asarray(pred) > 0
    gt = np.asarray(gt) > 0
    tp = (pred & gt).sum(0).astype(np.float64)
    fp = (pred & ~gt).sum(0).astype(np.float64)
    fn = (~pred & gt).sum(0).astype(np.float64)
    denom = 2 * tp + fp + fn
    per_class = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    d = 2 * tp.sum() + fp.sum() + fn.sum()
    micro = 2 * tp.sum() / d if d > 0 else 0.0
    return dict(micro_F1=float(micro), macro_F1=float(per_class.mean()),
                per_class_F1=per_class)


def multilabel_summary(scores: np.ndarray,
                       gt: np.ndarray,
                       split: Optional[Sequence[str]] = None,
                       thr: float = 0.5) -> dict:
    """mAP (over classes with positives), per-split mAP, micro/macro F1,
    and the per-class AP vector."""
    ap = per_class_ap(scores, gt)
    valid = ~np.isnan(ap)
    out = dict(mAP=float(ap[valid].mean()) if valid.any() else float('nan'))
    if split is not None:
        split = np.asarray(split)
        for s in SPLITS:
            sel = (split == s) & valid
            out[f'mAP_{s}'] = float(ap[sel].mean()) if sel.any() else \
                float('nan')
    f1 = f1_scores(np.asarray(scores) > thr, gt)
    out['micro_F1'] = f1['micro_F1']
    out['macro_F1'] = f1['macro_F1']
    out['per_class_ap'] = ap
    return out


def _load_split_file(path: str, num_classes: int) -> np.ndarray:
    """The original's ``class_split.pkl`` (dict head/middle/tail -> sets of
    labels) or the ``class_split.json`` of tools/create_longtail_dataset.py
    -> '<U6'[C]."""
    try:
        d = load(path)
    except Exception as e:
        raise AnnotationError(f'could not read class split {path}: {e}') \
            from e
    if not isinstance(d, dict):
        raise AnnotationError(f'{path}: expected a dict head/medium/tail')
    split = np.full(num_classes, '', dtype='<U6')
    for key, name in (('head', 'head'), ('middle', 'medium'),
                      ('medium', 'medium'), ('tail', 'tail')):
        for c in d.get(key, ()):
            if not 0 <= int(c) < num_classes:
                raise AnnotationError(
                    f'{path}: class {c} of {key!r} is outside [0, '
                    f'{num_classes})')
            split[int(c)] = name
    if (split == '').any():
        raise AnnotationError(
            f'{path} leaves {int((split == "").sum())} of {num_classes} '
            'classes in no split (keys head, middle/medium, tail)')
    return split


@METRICS.register_module()
class MultiLabelMetric(BaseMetric):
    """Per-class AP, mAP (all / head / medium / tail) and micro/macro F1.

    The split needs the training counts: ``class_split_file`` (the
    original's ``class_split.pkl`` or tools/create_longtail_dataset.py's
    ``class_split.json``), else the statistics of the training set from
    ``train_freq_file`` / ``train_ann_file`` (+ ``train_img_id_file``) /
    ``train_stats_file``. Without any, only overall mAP and F1 are given.

    Logged keys (fractions, like mmdet's metrics): ``{prefix}/mAP``,
    ``mAP_head``, ``mAP_medium``, ``mAP_tail``, ``micro_F1``,
    ``macro_F1``. The summary table is printed (and kept in
    ``summary_table``); with ``output_dir`` the per-class APs go to
    ``per_class_ap.json``.

    Args:
        thr (float): score threshold of the F1 predictions.
        head_min / medium_min (int): split bounds (#training images).
        classwise (bool): also print the per-class table.
        table_format (str): 'ascii' or 'markdown'.
        invalid_scores (str): images with a NaN/inf score (a diverged
            model) are an ``InvalidDetectionsError`` naming how many images
            and which ('error', default), or are left out of every AP and F1
            with a logged count ('drop').
    """

    default_prefix = 'multilabel'

    def __init__(self,
                 class_split_file: Optional[str] = None,
                 train_freq_file: Optional[str] = None,
                 train_ann_file: Optional[str] = None,
                 train_img_id_file: Optional[str] = None,
                 train_stats_file: Optional[str] = None,
                 head_min: int = 100,
                 medium_min: int = 20,
                 thr: float = 0.5,
                 classwise: bool = False,
                 table_format: str = 'ascii',
                 output_dir: Optional[str] = None,
                 invalid_scores: str = 'error',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.invalid_scores = check_policy(
            invalid_scores, 'MultiLabelMetric: invalid_scores')
        if table_format not in ('ascii', 'markdown'):
            raise ValueError("table_format must be 'ascii' or 'markdown', "
                             f'got {table_format!r}')
        self.class_split_file = class_split_file
        self.train_freq_file = train_freq_file
        self.train_ann_file = train_ann_file
        self.train_img_id_file = train_img_id_file
        self.train_stats_file = train_stats_file
        self.head_min = head_min
        self.medium_min = medium_min
        self.thr = float(thr)
        self.classwise = classwise
        self.table_format = table_format
        self.output_dir = output_dir
        self.summary_table: Optional[str] = None

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            get = s.get if isinstance(s, dict) else \
                (lambda k, s=s: getattr(s, k, None))
            score = get('pred_score')
            gt = get('gt_label')
            if score is None or gt is None:
                raise KeyError('MultiLabelMetric needs pred_score and '
                               'gt_label in each data sample')
            self.results.append(
                (np.asarray(score.cpu() if hasattr(score, 'cpu') else score,
                            dtype=np.float32),
                 np.asarray(gt.cpu() if hasattr(gt, 'cpu') else gt,
                            dtype=np.int64).reshape(-1)))

    # ------------------------------------------------------------ split
    def _train_counts(self, num_classes: int) -> Optional[np.ndarray]:
        if not (self.train_freq_file or self.train_ann_file
                or self.train_stats_file):
            return None
        stats = get_multilabel_stats(
            ann_file=self.train_ann_file,
            img_id_file=self.train_img_id_file,
            stats_file=self.train_stats_file,
            freq_file=self.train_freq_file)
        if stats.num_classes != num_classes:
            raise AnnotationError(
                f'MultiLabelMetric: the training statistics have '
                f'{stats.num_classes} classes, the predictions {num_classes}')
        return stats.image_count

    def class_split(self, num_classes: int):
        counts = self._train_counts(num_classes)
        if self.class_split_file:
            return _load_split_file(self.class_split_file, num_classes), \
                counts
        if counts is None:
            return None, None
        return multilabel_split(counts, self.head_min,
                                self.medium_min), counts

    # ---------------------------------------------------------- compute
    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = np.stack([r[0] for r in results])
        num_classes = scores.shape[1]
        gt = np.zeros_like(scores, dtype=np.uint8)
        for i, (_, lab) in enumerate(results):
            gt[i, lab] = 1
        keep = validate_scores(
            scores,
            self.invalid_scores,
            source='MultiLabelMetric pred_score (images by dataset index)',
            option="invalid_scores='drop' on the metric (e.g. "
            '--cfg-options test_evaluator.invalid_scores=drop)')
        if not keep.all():
            scores, gt = scores[keep], gt[keep]
        split, counts = self.class_split(num_classes)
        summary = multilabel_summary(scores, gt, split, self.thr)
        ap = summary.pop('per_class_ap')
        names = list((self.dataset_meta or {}).get('classes') or
                     [str(c) for c in range(num_classes)])
        missing = int(np.isnan(ap).sum())
        head = ['mAP'] + ([f'{s} ({int((split == s).sum())})'
                           for s in SPLITS] if split is not None else []) + \
            ['micro-F1', 'macro-F1']
        keys = ['mAP'] + ([f'mAP_{s}' for s in SPLITS]
                          if split is not None else []) + \
            ['micro_F1', 'macro_F1']
        row = [('n/a' if np.isnan(summary[k]) else
                f'{100 * summary[k]:.2f}') for k in keys]
        self.summary_table = format_table([head, row], self.table_format)
        msg = (f'\nmulti-label classification ({len(scores)} images, '
               f'{num_classes} classes):\n{self.summary_table}')
        if missing:
            msg += (f'\n{missing} classes have no positive test image and '
                    'are left out of the means')
        print_log(msg, logger='current')
        if self.classwise:
            rows = [['class', 'split', 'train imgs', 'AP']]
            for c in range(num_classes):
                rows.append([
                    names[c], split[c] if split is not None else '',
                    str(int(counts[c])) if counts is not None else '',
                    'n/a' if np.isnan(ap[c]) else f'{100 * ap[c]:.2f}'
                ])
            print_log('\n' + format_table(rows, self.table_format),
                      logger='current')
        if self.output_dir and is_main_process():
            os.makedirs(self.output_dir, exist_ok=True)
            with open(osp.join(self.output_dir, 'per_class_ap.json'),
                      'w') as f:
                json.dump(
                    dict(
                        classes=names,
                        ap=[None if np.isnan(a) else float(a) for a in ap],
                        split=None if split is None else split.tolist(),
                        train_images=None if counts is None else
                        counts.tolist(),
                        summary={k: summary[k] for k in keys}), f)
        return {k: summary[k] for k in keys}
