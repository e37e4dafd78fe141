"""Grouped AP: mAP per training-frequency bucket (OpenImages long-tail).

EQLv2 (Tan et al. CVPR 2021) and EFL (Li et al. CVPR 2022) report the 500
OpenImages challenge classes as five groups of 100, sorted by ascending
number of *training instances*: ``mAP0`` is the rarest hundred, ``mAP4`` the
most frequent; ``mAP`` is the mean over all classes.

* :func:`grouped_ap` — the grouping itself, on any per-class AP vector.
* :func:`coco_per_class_ap` — per-class AP of detections on a COCO-format
  json (pycocotools matching), at IoU 0.5 by default.
* :func:`evaluate_grouped_ap` — both, with the training counts taken from
  :mod:`mmlt.datasets.class_stats`.
* :class:`GroupedAPMetric` — the metric for configs (``mmdet`` registry).

Protocol notes (differences from the official challenge evaluator, TF-OD-API
``OpenImagesDetectionChallengeEvaluator``, which the papers used):

* AP is COCO's (101 recall points, interpolated precision), not the
  challenge's area under the raw PR curve.
* Group-of boxes (``iscrowd=1`` in openimages2coco's output) are COCO
  crowd regions: detections matched to them are ignored and they do not
  count as GT to recall; the challenge counts each group-of box as one GT
  hit by any detection inside it.
* The class hierarchy is not expanded (a "Dog" box is not also an "Animal"
  box), unless the json already contains the expanded boxes.
* Image-level labels *are* used when the val json carries them
  (openimages2coco writes ``pos_category_ids``/``neg_category_ids`` per
  image): a detection of class c in image i counts only if c is a verified
  label of i or i has a box of c, as in the challenge.

The grouping (which class is in which bucket, mean over the valid classes)
is the papers' and does not depend on these choices.
"""
import contextlib
import io
import json
import logging
import math
import os
import os.path as osp
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import (Any, Dict, Hashable, List, Mapping, Optional, Sequence,
                    Union)

import numpy as np
from mmdet.datasets.api_wrappers import COCO, COCOeval
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from mmengine.dist import is_main_process
from mmengine.fileio import load
from mmengine.logging import print_log

from mmlt.datasets.class_stats import (AnnotationError, ClassStats,
                                       get_class_stats, load_annotation_json)
from ..validate import (CheckedResults, check_policy, validate_preds,
                        validate_results)
from .lvis_metric import compute_with_outfile, format_table

__all__ = [
    'APGroup', 'GroupedAP', 'grouped_ap', 'parse_iou_thrs', 'iou_label',
    'coco_per_class_ap', 'has_image_labels', 'load_train_stats',
    'check_categories',
    'load_detections', 'evaluate_grouped_ap', 'GroupedAPMetric'
]

IouThrs = Union[float, str, Sequence[float]]


# --------------------------------------------------------------- grouping
@dataclass
class APGroup:
    """One frequency bucket.

    Attributes:
        index (int): 0 = rarest bucket.
        keys (list): the classes (indices or mapping keys), ascending count.
        counts (np.ndarray): int64 training instance counts of ``keys``.
        aps (np.ndarray): float64 AP of ``keys``; NaN where ignored.
        mAP (float): mean AP of the valid classes; NaN if there is none.
    """
    index: int
    keys: list
    counts: np.ndarray
    aps: np.ndarray
    mAP: float

    @property
    def num_classes(self) -> int:
        return len(self.keys)

    @property
    def num_valid(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.aps)))

    @property
    def num_ignored(self) -> int:
        return self.num_classes - self.num_valid

    @property
    def min_count(self) -> int:
        return int(self.counts.min()) if len(self.counts) else 0

    @property
    def max_count(self) -> int:
        return int(self.counts.max()) if len(self.counts) else 0


@dataclass
class GroupedAP:
    """Result of :func:`grouped_ap`.

    Attributes:
        mAP (float): mean AP over all valid classes (not the mean of the
            bucket means); NaN if no class is valid.
        groups (list[APGroup]): the buckets, rarest first.
        names (dict, optional): class key -> name, for tables and json.
        ap_name (str): what the APs are (e.g. 'AP@0.5'), for tables.
    """
    mAP: float
    groups: List[APGroup]
    names: Optional[Dict[Hashable, str]] = None
    ap_name: str = 'AP'
    meta: dict = field(default_factory=dict)

    @property
    def num_ignored(self) -> int:
        return sum(g.num_ignored for g in self.groups)

    def summary(self) -> 'OrderedDict[str, float]':
        """``{'mAP': .., 'mAP0': .., ..}`` in [0, 1], NaN where undefined."""
        out = OrderedDict(mAP=self.mAP)
        for g in self.groups:
            out[f'mAP{g.index}'] = g.mAP
        return out

    def per_class(self) -> List[dict]:
        """One record per class, rarest first (json-safe: NaN -> None)."""
        records = []
        for g in self.groups:
            for key, n, ap in zip(g.keys, g.counts, g.aps):
                records.append(
                    dict(
                        key=_json_key(key),
                        name=(self.names or {}).get(key),
                        group=g.index,
                        train_instance_count=int(n),
                        ap=None if math.isnan(ap) else float(ap)))
        return records

    def to_dict(self) -> dict:
        """Json-safe summary, buckets and per-class APs."""
        return dict(
            ap_name=self.ap_name,
            summary={k: _none_if_nan(v)
                     for k, v in self.summary().items()},
            groups=[
                dict(
                    name=f'mAP{g.index}',
                    mAP=_none_if_nan(g.mAP),
                    num_classes=g.num_classes,
                    num_evaluated=g.num_valid,
                    num_ignored=g.num_ignored,
                    min_train_instances=g.min_count,
                    max_train_instances=g.max_count) for g in self.groups
            ],
            per_class=self.per_class(),
            **self.meta)

    def table(self, table_format: str = 'markdown') -> str:
        """The grouped AP table (x100, one decimal; 'n/a': no valid class).

        ``ignored`` counts the classes without GT in the evaluated set
        (AP undefined), which are left out of the means.
        """
        header = [
            'group', '#classes', 'evaluated', 'ignored',
            '#train instances', f'{self.ap_name} (x100)'
        ]
        rows = [header]
        last = len(self.groups) - 1
        for g in self.groups:
            label = f'mAP{g.index}'
            if last > 0 and g.index == 0:
                label += ' (rarest)'
            elif last > 0 and g.index == last:
                label += ' (most frequent)'
            rows.append([
                label,
                str(g.num_classes),
                str(g.num_valid),
                str(g.num_ignored), f'{g.min_count}-{g.max_count}',
                _fmt(g.mAP)
            ])
        counts = np.concatenate([g.counts for g in self.groups])
        rows.append([
            'mAP (all)',
            str(sum(g.num_classes for g in self.groups)),
            str(sum(g.num_valid for g in self.groups)),
            str(self.num_ignored),
            f'{int(counts.min())}-{int(counts.max())}', _fmt(self.mAP)
        ])
        return format_table(rows, table_format)


def _fmt(v: float) -> str:
    return 'n/a' if v is None or math.isnan(v) else f'{v * 100:.1f}'


def _none_if_nan(v: float) -> Optional[float]:
    return None if v is None or math.isnan(v) else float(v)


def _json_key(key):
    return key.item() if isinstance(key, np.generic) else key


def _as_vectors(per_class_ap, instance_counts):
    """Aligned (keys, ap float64[C], counts int64[C])."""
    ap_is_map = isinstance(per_class_ap, Mapping)
    cnt_is_map = isinstance(instance_counts, Mapping)
    if ap_is_map != cnt_is_map:
        raise TypeError(
            'grouped_ap: per_class_ap and instance_counts must both be '
            'sequences (aligned by position) or both be mappings (aligned '
            'by key)')
    if ap_is_map:
        ap_keys, cnt_keys = set(per_class_ap), set(instance_counts)
        if ap_keys != cnt_keys:
            only_ap = sorted(map(str, ap_keys - cnt_keys))[:5]
            only_cnt = sorted(map(str, cnt_keys - ap_keys))[:5]
            raise ValueError(
                'grouped_ap: per_class_ap and instance_counts have different '
                f'classes ({len(ap_keys - cnt_keys)} only with an AP, e.g. '
                f'{only_ap}; {len(cnt_keys - ap_keys)} only with a count, '
                f'e.g. {only_cnt})')
        keys = sorted(per_class_ap)
        ap = [per_class_ap[k] for k in keys]
        counts = [instance_counts[k] for k in keys]
    else:
        ap, counts = list(per_class_ap), list(instance_counts)
        if len(ap) != len(counts):
            raise ValueError(
                f'grouped_ap: {len(ap)} APs but {len(counts)} instance '
                'counts; they must be aligned by class')
        keys = list(range(len(ap)))
    ap = np.array([np.nan if a is None else a for a in ap], dtype=np.float64)
    counts_f = np.asarray(counts, dtype=np.float64).reshape(-1)
    if len(counts_f) and (np.isnan(counts_f).any() or (counts_f < 0).any()
                          or (counts_f != np.round(counts_f)).any()):
        raise ValueError('grouped_ap: instance counts must be non-negative '
                         'integers')
    return keys, ap, counts_f.astype(np.int64)


def grouped_ap(per_class_ap: Union[Sequence[float], Mapping[Any, float]],
               instance_counts: Union[Sequence[int], Mapping[Any, int]],
               num_groups: int = 5) -> GroupedAP:
    """mAP of ``num_groups`` buckets of classes by training frequency.

    Classes are sorted by ascending training instance count (ties: by class
    index for sequences, by ascending key for mappings — deterministic) and
    the sorted list is cut into ``num_groups`` consecutive buckets with
    ``np.array_split``: equal sizes when ``num_groups`` divides the number
    of classes C (500 -> 5 x 100), otherwise the first ``C % num_groups``
    (rarest) buckets get one class more (e.g. 7 -> 3, 2, 2).  Bucket
    membership depends on the training counts only.

    A class whose AP is NaN/None or negative (-1: COCO/LVIS "no GT in the
    evaluated images") is ignored: it stays in its bucket but is left out of
    the bucket mean and the overall mean, and is counted in
    ``APGroup.num_ignored``.

    Args:
        per_class_ap: AP per class in [0, 1], a sequence or a mapping
            class key -> AP.
        instance_counts: training instances per class, of the same kind
            (aligned by position or by key).
        num_groups: number of buckets, 1 <= num_groups <= C.

    Returns:
        GroupedAP: ``.summary()`` gives ``{'mAP', 'mAP0', ...}`` (mAP0 =
        rarest); a bucket without valid class has mAP NaN.
    """
    keys, ap, counts = _as_vectors(per_class_ap, instance_counts)
    num_classes = len(keys)
    if isinstance(num_groups, bool) or int(num_groups) != num_groups:
        raise TypeError(f'grouped_ap: num_groups must be an int, got '
                        f'{num_groups!r}')
    num_groups = int(num_groups)
    if not 1 <= num_groups <= max(num_classes, 1) or num_classes == 0:
        raise ValueError(
            f'grouped_ap: cannot split {num_classes} classes into '
            f'{num_groups} groups (need 1 <= num_groups <= #classes)')
    ap = np.where(ap < 0, np.nan, ap)
    # stable sort: ties keep class-index (or sorted-key) order
    order = np.argsort(counts, kind='stable')
    groups = []
    for gi, idx in enumerate(np.array_split(order, num_groups)):
        g_ap = ap[idx]
        valid = g_ap[~np.isnan(g_ap)]
        groups.append(
            APGroup(
                index=gi,
                keys=[keys[i] for i in idx],
                counts=counts[idx],
                aps=g_ap,
                mAP=float(valid.mean()) if valid.size else math.nan))
    valid = ap[~np.isnan(ap)]
    return GroupedAP(
        mAP=float(valid.mean()) if valid.size else math.nan, groups=groups)


# ------------------------------------------------------------------ IoU
def parse_iou_thrs(iou_thrs: IouThrs) -> np.ndarray:
    """IoU thresholds as float64[T].

    Accepts a float (0.5), a sequence, or a string: '0.5', '0.5:0.95'
    (COCO's 0.50, 0.55, ..., 0.95) or 'a:b:step'.
    """
    if isinstance(iou_thrs, str):
        parts = iou_thrs.split(':')
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"iou_thrs {iou_thrs!r}: expected e.g. '0.5' or "
                             "'0.5:0.95'") from None
        if len(vals) == 1:
            thrs = np.array(vals)
        elif len(vals) in (2, 3):
            lo, hi = vals[:2]
            step = vals[2] if len(vals) == 3 else 0.05
            thrs = np.linspace(lo, hi, int(np.round((hi - lo) / step)) + 1)
        else:
            raise ValueError(f"iou_thrs {iou_thrs!r}: expected e.g. '0.5' or "
                             "'0.5:0.95'")
    else:
        thrs = np.atleast_1d(np.asarray(iou_thrs, dtype=np.float64))
    thrs = thrs.reshape(-1).astype(np.float64)
    if thrs.size == 0 or (thrs <= 0).any() or (thrs > 1).any():
        raise ValueError(f'iou_thrs must be in (0, 1], got {iou_thrs!r}')
    return thrs


def iou_label(thrs: np.ndarray) -> str:
    """'AP@0.5' or 'AP@[0.50:0.95]'."""
    if len(thrs) == 1:
        return f'AP@{thrs[0]:g}'
    return f'AP@[{thrs[0]:.2f}:{thrs[-1]:.2f}]'


# ------------------------------------------------------- per-class COCO AP
class _PairCOCOeval(COCOeval):
    """pycocotools box evaluation, same numbers, at OpenImages scale.

    * only (image, category) pairs with a GT or a detection are visited:
      pycocotools calls ``computeIoU`` and ``evaluateImg`` for every image x
      category (2 x 20.8M calls on the challenge val set) to get ``None``
      for the empty ones, which ``accumulate`` skips;
    * pairs with detections but no GT (most pairs at 300 dets/image) get
      ``evaluateImg``'s result (all detections unmatched) without the IoU
      and matching code;
    * ``_prepare`` selects annotations with sets (pycocotools tests
      ``category_id in list`` per annotation: minutes for 12M detections).

    ``tests/test_evaluation/test_grouped_ap.py`` checks the per-class
    precision against plain ``COCOeval``.
    """

    def _prepare(self) -> None:
        p = self.params
        assert p.useCats and p.iouType == 'bbox'
        cat_set = set(p.catIds)

        def select(api):
            return [
                a for img_id in p.imgIds
                for a in api.imgToAnns.get(img_id, ())
                if a['category_id'] in cat_set
            ]

        gts, dts = select(self.cocoGt), select(self.cocoDt)
        for gt in gts:  # pycocotools' rule: crowd boxes are ignored
            gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']
        self._gts = defaultdict(list)
        self._dts = defaultdict(list)
        for gt in gts:
            self._gts[gt['image_id'], gt['category_id']].append(gt)
        for dt in dts:
            self._dts[dt['image_id'], dt['category_id']].append(dt)
        self.evalImgs = defaultdict(list)
        self.eval = {}

    def _unmatched(self, img_id, cat_id, area_rng, max_det) -> dict:
        """``evaluateImg`` of a pair without GT: nothing can match."""
        # stable sort by descending score, like evaluateImg's mergesort
        dt = sorted(self._dts[img_id, cat_id],
                    key=lambda d: -d['score'])[:max_det]
        num_thrs = len(self.params.iouThrs)
        outside = np.array(
            [d['area'] < area_rng[0] or d['area'] > area_rng[1] for d in dt],
            dtype=bool).reshape(1, len(dt))
        return {
            'image_id': img_id,
            'category_id': cat_id,
            'aRng': area_rng,
            'maxDet': max_det,
            'dtIds': [d['id'] for d in dt],
            'gtIds': [],
            'dtMatches': np.zeros((num_thrs, len(dt))),
            'gtMatches': np.zeros((num_thrs, 0)),
            'dtScores': [d['score'] for d in dt],
            'gtIgnore': np.array([]),
            'dtIgnore': np.repeat(outside, num_thrs, 0),
        }

    def evaluate(self) -> None:
        p = self.params
        p.imgIds = list(np.unique(p.imgIds))
        p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self._prepare()
        img_pos = {img_id: i for i, img_id in enumerate(p.imgIds)}
        cat_pos = {cat_id: k for k, cat_id in enumerate(p.catIds)}
        pairs = {
            key
            for index in (self._gts, self._dts) for key, anns in index.items()
            if anns and key[0] in img_pos and key[1] in cat_pos
        }
        with_gt = {pair for pair in pairs if self._gts.get(pair)}
        self.ious = {pair: self.computeIoU(*pair) for pair in with_gt}
        n_img, n_area = len(p.imgIds), len(p.areaRng)
        self.evalImgs = [None] * (len(p.catIds) * n_area * n_img)
        max_det = p.maxDets[-1]
        for img_id, cat_id in pairs:
            fn = (self.evaluateImg if (img_id, cat_id) in with_gt else
                  self._unmatched)
            base = cat_pos[cat_id] * n_area * n_img + img_pos[img_id]
            for a, area_rng in enumerate(p.areaRng):
                self.evalImgs[base + a * n_img] = fn(img_id, cat_id,
                                                     area_rng, max_det)
        self._paramsEval = p


def _result_api(coco_gt: COCO, dets: List[dict], copy: bool = True) -> COCO:
    """A COCO api of box detections (what ``COCO.loadRes`` builds, without
    its polygon conversion, and also for an empty list).  ``copy=False``
    writes ``id``/``area`` into the given dicts."""
    anns = []
    for i, d in enumerate(dets):
        ann = dict(d) if copy else d
        x, y, w, h = ann['bbox']
        ann['area'] = w * h
        ann['id'] = i + 1
        anns.append(ann)
    res = COCO()
    res.dataset = dict(
        images=coco_gt.dataset['images'],
        categories=coco_gt.dataset['categories'],
        annotations=anns)
    with contextlib.redirect_stdout(io.StringIO()):
        res.createIndex()
    return res


def _limit_per_image(dets: List[dict], max_dets: int) -> List[dict]:
    """Keep the ``max_dets`` top-scoring detections of every image."""
    by_img = defaultdict(list)
    for d in dets:
        by_img[d['image_id']].append(d)
    out = []
    for img_dets in by_img.values():
        if len(img_dets) > max_dets:
            img_dets = sorted(
                img_dets, key=lambda d: d['score'], reverse=True)[:max_dets]
        out.extend(img_dets)
    return out


def has_image_labels(coco_gt: COCO) -> bool:
    """Whether the images carry verified image-level labels
    (openimages2coco's ``pos_category_ids``/``neg_category_ids``)."""
    return any('pos_category_ids' in img or 'neg_category_ids' in img
               for img in coco_gt.dataset.get('images', []))


def _filter_unverified(coco_gt: COCO, dets: List[dict]) -> List[dict]:
    """Drop detections of classes neither verified (positive or negative
    image-level label) nor annotated with a box in their image."""
    allowed = {}
    for img_id, img in coco_gt.imgs.items():
        labels = set(img.get('pos_category_ids') or ())
        labels.update(img.get('neg_category_ids') or ())
        labels.update(a['category_id'] for a in coco_gt.imgToAnns[img_id])
        allowed[img_id] = labels
    return [d for d in dets if d['category_id'] in allowed[d['image_id']]]


def _check_dets(coco_gt: COCO,
                dets: Any,
                source: str,
                invalid_detections: str = 'error',
                drop_hint: str = "invalid_detections='drop'") -> List[dict]:
    """COCO box results that are well-formed and valid
    (:mod:`mmlt.evaluation.validate`: finite scores and boxes, w, h >= 0,
    image and category ids of ``coco_gt``); invalid ones raise or, with
    ``invalid_detections='drop'``, are dropped with a logged count."""
    if not isinstance(dets, list):
        raise ValueError(
            f'{source}: detections must be a list of dicts (COCO results '
            f'format), got a {type(dets).__name__}')
    if isinstance(dets, CheckedResults):  # checked by GroupedAPMetric
        return dets
    return validate_results(
        dets,
        invalid_detections,
        source,
        drop_hint,
        img_ids=coco_gt.imgs,
        cat_ids=coco_gt.cats,
        require_bbox=True)


def coco_per_class_ap(coco_gt: COCO,
                      dets: List[dict],
                      iou_thrs: IouThrs = 0.5,
                      max_dets: int = 300,
                      img_ids: Optional[Sequence] = None,
                      use_image_labels: Optional[bool] = None,
                      source: str = 'detections',
                      copy: bool = True,
                      invalid_detections: str = 'error',
                      drop_hint: str = "invalid_detections='drop'"
                      ) -> Dict[Any, float]:
    """Per-category box AP with pycocotools matching.

    AP of a category = mean of COCO's interpolated precision at the 101
    recall points, averaged over ``iou_thrs``, over all object sizes;
    categories without (non-crowd) GT in the evaluated images get NaN.

    Args:
        coco_gt: GT api (COCO-format val json).
        dets: COCO box results (``image_id``, ``category_id``, ``bbox``
            xywh, ``score``); not modified unless ``copy=False``.
        iou_thrs: see :func:`parse_iou_thrs`. Defaults to 0.5.
        max_dets: keep the top ``max_dets`` detections per image (over all
            classes). Defaults to 300.
        img_ids: evaluate only these images (default: all GT images).
        use_image_labels: drop detections of classes that are not verified
            labels of their image (see module doc). None: when the json
            has image-level labels.
        source: name of the detections in error messages.
        copy: False adds ``id``/``area`` to the given dicts instead of
            copying them (halves the memory on OpenImages-size results).
        invalid_detections: 'error' (default): raise an
            ``InvalidDetectionsError`` on detections with a NaN/inf score
            or box, a negative width/height or an image/category id not in
            ``coco_gt``; 'drop': evaluate the others, log the count.
        drop_hint: how the caller's user asks for 'drop' (error text).

    Returns:
        dict: category id -> AP (float in [0, 1] or NaN), sorted ids.
    """
    thrs = parse_iou_thrs(iou_thrs)
    dets = _check_dets(coco_gt, dets, source, invalid_detections, drop_hint)
    if use_image_labels is None:
        use_image_labels = has_image_labels(coco_gt)
    if img_ids is not None:
        keep = set(img_ids)
        dets = [d for d in dets if d['image_id'] in keep]
    if use_image_labels:
        dets = _filter_unverified(coco_gt, dets)
    if max_dets > 0:
        dets = _limit_per_image(dets, max_dets)

    cat_ids = sorted(coco_gt.getCatIds())
    with contextlib.redirect_stdout(io.StringIO()):
        ev = _PairCOCOeval(coco_gt, _result_api(coco_gt, dets, copy), 'bbox')
        p = ev.params
        p.imgIds = list(img_ids) if img_ids is not None else list(
            coco_gt.getImgIds())
        p.catIds = cat_ids
        p.iouThrs = thrs
        p.areaRng = [[0, 1e10]]
        p.areaRngLbl = ['all']
        p.maxDets = [max_dets if max_dets > 0 else 10**9]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval['precision']  # [T, R, K, A=1, M=1]
    out = {}
    for k, cat_id in enumerate(ev.params.catIds):
        vals = precision[:, :, k, 0, -1]
        vals = vals[vals > -1]
        out[_json_key(cat_id)] = float(vals.mean()) if vals.size else math.nan
    return out


# ------------------------------------------------------ training counts
def _int_image_ids(data: dict) -> Optional[dict]:
    """``data`` with image ids renumbered 0..N-1 when they are not all ints
    (openimages2coco writes the OpenImages hex ids), else None.

    Only ``class_stats`` sees the copy: image ids matter there only to count
    images per class.
    """
    images = data.get('images')
    anns = data.get('annotations')
    if not isinstance(images, list) or not isinstance(anns, list):
        return None
    if all(isinstance(img, dict) and isinstance(img.get('id'), int)
           and not isinstance(img.get('id'), bool) for img in images):
        return None
    new_id = {}
    for i, img in enumerate(images):
        if isinstance(img, dict) and 'id' in img:
            new_id.setdefault(img['id'], i)
    images2 = [dict(id=i) for i in range(len(images))]
    anns2 = []
    for a in anns:
        if not isinstance(a, dict):
            return None  # let class_stats report the malformed entry
        b = {k: a[k] for k in ('id', 'category_id') if k in a}
        if 'image_id' in a:
            # unknown ids -> -1: class_stats reports them as not in 'images'
            b['image_id'] = new_id.get(a['image_id'], -1)
        anns2.append(b)
    return dict(
        categories=data.get('categories'),
        images=images2,
        annotations=anns2)


def load_train_stats(train_ann_file: Optional[str] = None,
                     stats_file: Optional[str] = None,
                     owner: str = 'GroupedAPMetric') -> ClassStats:
    """Per-class training counts via :func:`get_class_stats` (cached).

    COCO-format files with string image ids (openimages2coco) are accepted:
    the ids are renumbered for counting.  Category tables need no LVIS
    fields (``strict=False``).

    Raises:
        FileNotFoundError: naming the missing file and its option.
        AnnotationError: malformed file (message names it).
    """
    if stats_file:
        stats_file = os.fspath(stats_file)
        if not osp.isfile(stats_file):
            raise FileNotFoundError(
                f'{owner}: stats_file={stats_file!r} does not exist; write it '
                'with ClassStats.save() or pass train_ann_file (the training '
                'annotation json) instead')
        return get_class_stats(stats_file=stats_file)
    if not train_ann_file:
        raise ValueError(
            f'{owner} needs the training annotations for the per-class '
            'training instance counts: set train_ann_file (the COCO-format '
            'training json) or stats_file')
    train_ann_file = os.fspath(train_ann_file)
    if not osp.isfile(train_ann_file):
        raise FileNotFoundError(
            f'{owner}: train_ann_file={train_ann_file!r} does not exist; it '
            'must be the COCO-format training annotation json whose '
            'instance counts define the frequency groups')
    try:
        return get_class_stats(ann_file=train_ann_file, strict=False)
    except AnnotationError:
        pass  # maybe string image ids; retried below, outside the except
        # block so that the first load (held by the traceback) is freed
    data = load_annotation_json(train_ann_file)
    renumbered = _int_image_ids(data)
    if renumbered is None:  # a real problem: raise class_stats' error
        return get_class_stats(
            ann_file=train_ann_file, strict=False, _data=data)
    del data
    # cached under the file, so later runs skip both loads
    return get_class_stats(
        ann_file=train_ann_file, strict=False, _data=renumbered)


def check_categories(stats: ClassStats, coco_gt: COCO, train_src: str,
                     val_src: str) -> None:
    """Raise :class:`AnnotationError` unless the training file and the val
    file define the same categories (same ids, same names)."""
    val = {int(c['id']): str(c.get('name')) for c in coco_gt.cats.values()}
    train = {int(i): n for i, n in zip(stats.cat_ids, stats.names)}
    only_val = sorted(set(val) - set(train))
    only_train = sorted(set(train) - set(val))
    renamed = [i for i in sorted(set(val) & set(train)) if val[i] != train[i]]
    if not (only_val or only_train or renamed):
        return
    parts = []
    if only_val:
        parts.append(f'{len(only_val)} category id(s) only in the val file '
                     f'(e.g. {only_val[:5]})')
    if only_train:
        parts.append(f'{len(only_train)} only in the training file (e.g. '
                     f'{only_train[:5]})')
    if renamed:
        i = renamed[0]
        parts.append(f'{len(renamed)} with different names (e.g. id {i}: '
                     f'{train[i]!r} in training vs {val[i]!r} in val)')
    raise AnnotationError(
        f'categories of the training file {train_src} ({len(train)}) do not '
        f'match those of the val file {val_src} ({len(val)}): '
        + '; '.join(parts) + '. Both must come from the same conversion '
        '(e.g. openimages2coco --version challenge_2019).')


def load_detections(path: str) -> List[dict]:
    """COCO box results json (``*.bbox.json``) with clear errors."""
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'detection results file {path} does not exist; write it with '
            'tools/test.py and CocoMetric(format_only=True, '
            'outfile_prefix=...) -> <prefix>.bbox.json')
    try:
        with open(path) as f:
            dets = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'detection results file {path} is not a JSON file '
                         f'({e})') from e
    if not isinstance(dets, list):
        raise ValueError(
            f'detection results file {path} must hold a list of COCO box '
            f'results, got a {type(dets).__name__}')
    return dets


def evaluate_grouped_ap(coco_gt: COCO,
                        dets: List[dict],
                        train_stats: ClassStats,
                        iou_thrs: IouThrs = 0.5,
                        num_groups: int = 5,
                        max_dets: int = 300,
                        img_ids: Optional[Sequence] = None,
                        use_image_labels: Optional[bool] = None,
                        train_src: str = 'the training file',
                        val_src: str = 'the val file',
                        det_src: str = 'detections',
                        copy: bool = True,
                        invalid_detections: str = 'error',
                        drop_hint: str = "invalid_detections='drop'"
                        ) -> GroupedAP:
    """Per-class AP (:func:`coco_per_class_ap`) grouped by the training
    instance counts of ``train_stats`` (:func:`grouped_ap`).  ``copy``,
    ``invalid_detections``, ``drop_hint``: see :func:`coco_per_class_ap`."""
    check_categories(train_stats, coco_gt, train_src, val_src)
    thrs = parse_iou_thrs(iou_thrs)
    if use_image_labels is None:
        use_image_labels = has_image_labels(coco_gt)
    aps = coco_per_class_ap(
        coco_gt,
        dets,
        thrs,
        max_dets=max_dets,
        img_ids=img_ids,
        use_image_labels=use_image_labels,
        source=det_src,
        copy=copy,
        invalid_detections=invalid_detections,
        drop_hint=drop_hint)
    counts = {
        int(c): int(n)
        for c, n in zip(train_stats.cat_ids, train_stats.instance_count)
    }
    result = grouped_ap(aps, counts, num_groups)
    result.names = {
        int(c['id']): str(c.get('name'))
        for c in coco_gt.cats.values()
    }
    result.ap_name = iou_label(thrs)
    result.meta = dict(
        iou_thrs=[float(t) for t in thrs],
        max_dets=int(max_dets),
        use_image_labels=bool(use_image_labels),
        num_groups=int(num_groups))
    return result


# ----------------------------------------------------------------- metric
@METRICS.register_module()
class GroupedAPMetric(CocoMetric):
    """mAP per training-frequency group on a COCO-format val json (the
    OpenImages report of EQLv2/EFL: 500 classes, 5 groups of 100).

    Logs ``mAP`` (mean AP over all classes with val GT) and ``mAP0`` (rarest
    group) ... ``mAP{num_groups-1}`` as floats in [0, 1] (-1: no class of the
    group has val GT), prefixed ``grouped/`` by default, and prints the
    markdown table of :meth:`GroupedAP.table`.  AP is box AP at
    ``iou_thrs`` (default 0.5, the challenge metric; '0.5:0.95' for COCO's
    average) with pycocotools matching — see the module doc for how this
    differs from the official challenge evaluator.

    Groups come from the per-class *training instance* counts of
    ``train_ann_file`` (via :mod:`mmlt.datasets.class_stats`, cached on
    disk after the first run) or of a precomputed ``stats_file``.  They are
    loaded when the metric is built, on the main process only (where
    ``compute_metrics`` runs), and must define the same categories as
    ``ann_file``.

    Predicted label ``i`` maps to a category id as in mmdet's
    ``CocoDataset``: the ``i``-th category of ``ann_file`` whose name is in
    ``dataset_meta['classes']`` (all categories, in file order, without
    ``classes``).

    Args:
        ann_file (str): COCO-format val json. Required.
        train_ann_file (str, optional): COCO-format training json.
        stats_file (str, optional): ``ClassStats`` json; overrides
            ``train_ann_file``.
        iou_thrs (float | str | Sequence[float]): IoU threshold(s); several
            are averaged. Defaults to 0.5.
        num_groups (int): number of frequency groups. Defaults to 5.
        max_dets (int): detections kept per image (top scores). Defaults to
            300, the papers' test setting.
        use_image_labels (bool, optional): ignore detections of classes that
            are not verified labels of their image (needs openimages2coco's
            ``pos_category_ids``/``neg_category_ids``). None: when present.
        table_format (str): 'markdown' or 'ascii'.
        out_file (str, optional): also write :meth:`GroupedAP.to_dict`
            (summary, groups, per-class AP) as json here.
        invalid_detections (str): 'error' (default): raise an
            ``InvalidDetectionsError`` when a detection has a NaN/inf score
            or box, x2 < x1 or y2 < y1, a label outside the classes or an
            image id not in ``ann_file`` (the message names how many of
            which images and the likely cause, a diverged model); 'drop':
            evaluate the others and log the count.
        format_only, outfile_prefix, backend_args, collect_device, prefix:
            as in :class:`mmdet.evaluation.CocoMetric`
            (``format_only=True`` writes ``<outfile_prefix>.bbox.json``,
            the input of ``tools/analysis/openimages_grouped_ap.py``).
    """

    default_prefix: Optional[str] = 'grouped'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 train_ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 iou_thrs: IouThrs = 0.5,
                 num_groups: int = 5,
                 max_dets: int = 300,
                 use_image_labels: Optional[bool] = None,
                 table_format: str = 'markdown',
                 out_file: Optional[str] = None,
                 invalid_detections: str = 'error',
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if ann_file is None:
            raise ValueError(
                'GroupedAPMetric needs `ann_file`: the COCO-format val json '
                '(e.g. openimages2coco output)')
        if not osp.isfile(os.fspath(ann_file)) and backend_args is None:
            raise FileNotFoundError(
                f'GroupedAPMetric: ann_file={ann_file!r} does not exist; it '
                'must be the COCO-format val annotation json')
        if table_format not in ('ascii', 'markdown'):
            raise ValueError("table_format must be 'ascii' or 'markdown', "
                             f'got {table_format!r}')
        thrs = parse_iou_thrs(iou_thrs)
        self.invalid_detections = check_policy(
            invalid_detections, 'GroupedAPMetric: invalid_detections')
        with contextlib.redirect_stdout(io.StringIO()):
            super().__init__(
                ann_file=ann_file,
                metric='bbox',
                iou_thrs=thrs,
                format_only=format_only,
                outfile_prefix=outfile_prefix,
                backend_args=backend_args,
                collect_device=collect_device,
                prefix=prefix)
        self.ann_file = ann_file
        self.train_ann_file = train_ann_file
        self.stats_file = stats_file
        self.num_groups = int(num_groups)
        if self.num_groups < 1:
            raise ValueError(f'num_groups must be >= 1, got {num_groups}')
        self.max_dets = int(max_dets)
        self.use_image_labels = use_image_labels
        self.table_format = table_format
        self.out_file = out_file
        self._train_stats: Optional[ClassStats] = None
        #: the last result and table, for tools and tests
        self.result: Optional[GroupedAP] = None
        self.table: Optional[str] = None
        if not format_only:
            if not (train_ann_file or stats_file):
                raise ValueError(
                    'GroupedAPMetric needs the training annotations for the '
                    'frequency groups: set train_ann_file (COCO-format '
                    'training json) or stats_file')
            if is_main_process():
                # fail at build time, not after inference
                self._get_train_stats()

    # ------------------------------------------------------------------ #
    def _get_train_stats(self) -> ClassStats:
        if self._train_stats is None:
            stats = load_train_stats(self.train_ann_file, self.stats_file)
            check_categories(stats, self._coco_api, self._train_src(),
                             self.ann_file)
            self._train_stats = stats
        return self._train_stats

    def _train_src(self) -> str:
        return self.stats_file or self.train_ann_file

    def _label_to_cat_id(self) -> list:
        """Category id of every label, as mmdet's CocoDataset assigns them."""
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            return list(self._coco_api.get_cat_ids())
        names = {str(c.get('name')) for c in self._coco_api.cats.values()}
        missing = [n for n in classes if n not in names]
        if missing:
            raise AnnotationError(
                f"{len(missing)} of the dataset's {len(classes)} classes are "
                f'not category names of {self.ann_file} (e.g. '
                f'{missing[:5]}); the model and the val json disagree on '
                'the class list')
        cat_ids = list(self._coco_api.get_cat_ids(cat_names=list(classes)))
        if len(cat_ids) != len(classes):
            raise AnnotationError(
                f'the dataset has {len(classes)} classes but their names '
                f'match {len(cat_ids)} categories of {self.ann_file} '
                '(duplicated names?); labels cannot be mapped to category '
                'ids')
        return cat_ids

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Grouped AP of the collected predictions (main process)."""
        return compute_with_outfile(self, results)

    def _compute(self, results: list, outfile_prefix: str) -> dict:
        gts, preds = zip(*results) if results else ((), ())
        self.cat_ids = self._label_to_cat_id()
        dets: List[dict] = []
        if preds:
            preds = validate_preds(
                preds,
                self.invalid_detections,
                source=f'GroupedAPMetric predictions (against '
                f'{self.ann_file})',
                option="invalid_detections='drop' on the metric (e.g. "
                '--cfg-options test_evaluator.invalid_detections=drop)',
                num_classes=len(self.cat_ids),
                img_ids=self._coco_api.imgs)
            result_files = self.results2json(preds, outfile_prefix)
            # checked above against the same GT: not again
            dets = CheckedResults(load(result_files['bbox']))
        else:
            print_log(
                'GroupedAPMetric: no predictions; every AP is 0.',
                logger='current',
                level=logging.WARNING)
        if self.format_only:
            print_log(
                f'results are saved in {osp.dirname(outfile_prefix)}',
                logger='current')
            return OrderedDict()

        result = evaluate_grouped_ap(
            self._coco_api,
            dets,
            self._get_train_stats(),
            iou_thrs=self.iou_thrs,
            num_groups=self.num_groups,
            max_dets=self.max_dets,
            use_image_labels=self.use_image_labels,
            train_src=self._train_src(),
            val_src=self.ann_file,
            det_src='predictions',
            copy=False)  # freshly loaded from the results json
        self.result = result
        self.table = result.table(self.table_format)
        print_log(
            f'Grouped {result.ap_name} against {self.ann_file}: classes '
            f'sorted by training instances ({self._train_src()}), '
            f'{self.num_groups} groups, mAP0 = rarest; ignored = no val GT; '
            'image-level labels '
            f"{'used' if result.meta['use_image_labels'] else 'not used'}:\n"
            + self.table,
            logger='current')
        if self.out_file:
            d = osp.dirname(osp.abspath(self.out_file))
            os.makedirs(d, exist_ok=True)
            with open(self.out_file, 'w') as f:
                json.dump(result.to_dict(), f, indent=1)
            print_log(
                f'Grouped AP saved to {self.out_file}', logger='current')
        # -1 marks groups without any class with val GT (LVIS convention)
        return OrderedDict((k, -1.0 if math.isnan(v) else float(v))
                           for k, v in result.summary().items())
