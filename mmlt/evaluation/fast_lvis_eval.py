"""LVIS evaluation on faster-coco-eval's C++ matcher (``backend='fast'``).

:func:`run_fast_lvis_eval` has the interface and the outputs of
:func:`mmlt.evaluation.lvis_eval.run_lvis_eval` (lvis-api): the same summary
keys and an object that :func:`~mmlt.evaluation.lvis_eval.per_class_ap`
accepts, and the same numbers on every input lvis-api accepts.  mmlt
prepares the inputs with lvis-api's own rules, lets faster-coco-eval's C++
code do the greedy matching where a pair has GT and detections, and
accumulates in numpy:

* GT: the annotations lvis-api's ``LVISEval._prepare`` loads, through
  lvis-api's own ``LVIS.get_ann_ids``/``load_anns``: only ``0 < area <
  inf`` (GT of area 0 or NaN take no part, nor count as present for the
  federated filter), duplicate ids resolved as lvis-api does.  ``ignore``
  is honoured, ``iscrowd`` is not (lvis-api matches every GT as a
  non-crowd); masks from lvis-api's ``LVIS.ann_to_rle``.
* Detections: mmlt's check (:func:`~mmlt.evaluation.lvis_eval.
  check_lvis_results`), lvis-api's per-image limit (``max_dets`` < 0: no
  limit), ids and areas (box area when the first detection has a box, else
  the mask area), then lvis-api's selection: images in ``img_ids``,
  categories of the GT, ``0 < area < inf`` (a zero-width box clamped at the
  image border takes no part), verified categories only (in the image's GT
  or ``neg_category_ids``).  Masks and IoUs (pycocotools, as lvis-api).
* Matching: pairs with GT and detections go to faster-coco-eval's
  ``COCOevalEvaluateImages`` (greedy matching, same rules as lvis-api's
  ``evaluate_img``) in one call; ids are replaced by positive surrogates
  (the library reads ids as unsigned: negative or float GT ids would become
  0), a GT id 0 stays 0 (lvis-api never counts a match to it as a TP).
  Detections of pairs without GT are false positives unless ignored (area
  out of range, not-exhaustive category): no matching needed.
* Accumulation: lvis-api's (per category and area range, all detections
  sorted by score with ties in image then result order; precision
  envelope; 101 recall thresholds), vectorised in numpy.

Class-agnostic evaluation (``use_cats=False``, proposal recall) and GT
without categories are delegated to the lvis-api backend.  Equality with
lvis-api (every summary value and per-class AP, to 1e-9) is tested in
``tests/test_evaluation/test_fast_lvis_eval.py`` and, on random inputs
mixing degenerate boxes, border areas, ties and limits,
``tests/test_evaluation/test_fast_lvis_parity.py``.
"""
import gc
import json
import math
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pycocotools.mask as mask_utils
from lvis import LVIS
from lvis.eval import Params as LVISParams

from .lvis_eval import (AP_KEYS, FREQ_GROUPS, _limit_dets_per_image,
                        check_lvis_gt, check_lvis_results, run_lvis_eval)
from .validate import CheckedResults

__all__ = [
    'FastLVISUnsupported', 'FastLVISEval', 'faster_coco_eval_available',
    'run_fast_lvis_eval'
]

AREA_LBL = ('all', 'small', 'medium', 'large')
INSTALL_HINT = ('faster-coco-eval is not installed: `pip install '
                'faster-coco-eval` (>= 1.8), or use backend=\'lvis\'.')

#: IoU threads (pycocotools' mask IoU runs without the GIL held only in
#: part; two threads still help on multi-core machines)
IOU_WORKERS = 2


class FastLVISUnsupported(ValueError):
    """The input is one on which the fast backend would differ from
    lvis-api (kept for compatibility: no input raises it now)."""


def faster_coco_eval_available() -> bool:
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        return False
    return True


def _import_faster():
    try:
        import faster_coco_eval.faster_eval_api_cpp as _C
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return _C


class FastLVISEval:
    """Result of :func:`run_fast_lvis_eval`, shaped like lvis-api's.

    Attributes:
        params: ``cat_ids`` (sorted), ``img_ids``, ``area_rng_lbl``,
            ``area_rng``, ``iou_thrs``, ``rec_thrs``, ``max_dets``,
            ``iou_type``, ``use_cats``.
        eval (dict): ``precision`` ``[T, R, K, A]`` and ``recall``
            ``[T, K, A]`` (-1 where a category has no GT), as in lvis-api.
        results (dict): the summary.
        freq_groups (list): category indices of 'r', 'c', 'f'.
    """

    def __init__(self, params, precision, recall, results, freq_groups):
        self.params = params
        self.eval = dict(precision=precision, recall=recall)
        self.results = results
        self.freq_groups = freq_groups

    def get_results(self) -> Dict[str, float]:
        return dict(self.results)


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _summarize(precision, recall, params, freq_groups) -> Dict[str, float]:
    """lvis-api's ``summarize``: means over the entries > -1, else -1."""
    thr = list(np.round(params.iou_thrs, 2))
    t50, t75 = thr.index(0.5), thr.index(0.75)
    a = {lbl: i for i, lbl in enumerate(params.area_rng_lbl)}
    out = {
        'AP': _mean_valid(precision[:, :, :, a['all']]),
        'AP50': _mean_valid(precision[t50, :, :, a['all']]),
        'AP75': _mean_valid(precision[t75, :, :, a['all']]),
        'APs': _mean_valid(precision[:, :, :, a['small']]),
        'APm': _mean_valid(precision[:, :, :, a['medium']]),
        'APl': _mean_valid(precision[:, :, :, a['large']]),
    }
    for lbl, idx in zip(FREQ_GROUPS, freq_groups):
        out[f'AP{lbl}'] = _mean_valid(precision[:, :, idx, a['all']])
    md = params.max_dets
    out[f'AR@{md}'] = _mean_valid(recall[:, :, a['all']])
    for lbl in ('small', 'medium', 'large'):
        out[f'AR{lbl[0]}@{md}'] = _mean_valid(recall[:, :, a[lbl]])
    assert tuple(out)[:len(AP_KEYS)] == AP_KEYS
    return out


class _GCPaused:
    """No cyclic garbage collection inside: evaluation allocates millions
    of small objects next to the caller's millions of detection dicts, and
    every full collection walks them all (a third of the run at LVIS
    scale).  Nothing here builds reference cycles."""

    def __enter__(self):
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.enabled:
            gc.enable()


def _rle_of(ann, img):
    """lvis-api's ``LVIS.ann_to_rle`` for an image dict ``img``."""
    segm = ann['segmentation']
    h, w = img['height'], img['width']
    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if isinstance(segm['counts'], list):
        return mask_utils.frPyObjects(segm, h, w)
    return segm


def _ious(payloads):
    """pycocotools IoUs (lvis-api's function) of ``(dets, gts)`` pairs,
    every GT a non-crowd as in lvis-api."""

    def one(pair):
        d, g = pair
        return mask_utils.iou(d, g, [0] * len(g))

    if IOU_WORKERS > 1 and len(payloads) > 64:
        with ThreadPoolExecutor(IOU_WORKERS) as pool:
            return list(pool.map(one, payloads, chunksize=32))
    return [one(p) for p in payloads]


def _min_count(num_gt: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """``[K, R]``: the least integer m with ``m / num_gt >= thr`` in float
    arithmetic, i.e. the first TP count at which lvis-api's recall reaches
    each threshold (float division is monotone in m)."""
    n = num_gt[:, None].astype(np.float64)
    m = np.ceil(rec_thrs[None, :] * n)
    m = np.maximum(m, 0)
    for _ in range(2):
        m = np.where((m > 0) & ((m - 1) / n >= rec_thrs), m - 1, m)
        m = np.where(m / n < rec_thrs, m + 1, m)
    return m.astype(np.int64)


def _accumulate(tp, fp, cells, num_gt, params):
    """lvis-api's ``accumulate`` for one area range, all categories.

    Args:
        tp, fp (ndarray): ``[T, N]`` bool, entries sorted by (category,
            score desc, image, id); ignored entries have both False.
        cells (ndarray): ``[N]`` category index of each entry (sorted).
        num_gt (ndarray): ``[K]`` non-ignored GT per category.

    Returns:
        precision ``[T, R, K]`` and recall ``[T, K]`` (-1 without GT).
    """
    T, R, K = len(params.iou_thrs), len(params.rec_thrs), len(num_gt)
    precision = -np.ones((T, R, K))
    recall = -np.ones((T, K))
    has_gt = num_gt > 0
    precision[:, :, has_gt] = 0
    recall[:, has_gt] = 0
    # entries of categories without GT are never used
    keep = has_gt[cells]
    tp, fp, cells = tp[:, keep], fp[:, keep], cells[keep]
    # ignored entries (no TP, no FP anywhere) only repeat the previous
    # recall/precision: dropping them changes no sampled value
    valid = (tp | fp).any(0)
    tp, fp, cells = tp[:, valid], fp[:, valid], cells[valid]
    N = cells.size
    if N == 0:
        return precision, recall
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    ends = np.r_[starts[1:], N]
    seg_cat = cells[starts]
    seg_of = np.repeat(np.arange(starts.size), ends - starts)
    tp_cum = np.cumsum(tp, axis=1, dtype=np.int64)
    fp_cum = np.cumsum(fp, axis=1, dtype=np.int64)
    # restart the sums at each category
    tp_cum -= np.concatenate([np.zeros((T, 1), np.int64), tp_cum],
                             1)[:, starts][:, seg_of]
    fp_cum -= np.concatenate([np.zeros((T, 1), np.int64), fp_cum],
                             1)[:, starts][:, seg_of]
    tp_f = tp_cum.astype(np.float64)
    # same operations as lvis-api, so the floats are the same
    pr = tp_f / (fp_cum.astype(np.float64) + tp_f + np.spacing(1))
    recall[:, seg_cat] = tp_f[:, ends - 1] / num_gt[seg_cat]
    # precision envelope (running max from the right) per category
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s > 1:
            pr[:, s:e] = np.maximum.accumulate(pr[:, e - 1:s - 1 if s else
                                                  None:-1],
                                               axis=1)[:, ::-1]
    # first entry whose recall reaches each threshold: tp_cum >= m, found
    # with one sorted search over (threshold, category, count) keys
    m = _min_count(num_gt[seg_cat], params.rec_thrs)  # [S, R]
    big = int(tp_cum.max()) + 2
    S = starts.size
    seg_key = (np.arange(T)[:, None] * S + seg_of[None, :]) * big
    keys = (seg_key + tp_cum).ravel()
    q = ((np.arange(T)[:, None, None] * S + np.arange(S)[None, :, None]) *
         big + m[None]).reshape(-1)
    idx = np.searchsorted(keys, q, side='left').reshape(T, S, R)
    seg_end = (np.arange(T)[:, None] * N + ends[None, :])[:, :, None]
    found = idx < seg_end
    vals = np.where(found, pr.ravel()[np.minimum(idx, T * N - 1)], 0.0)
    precision[:, :, seg_cat] = vals.transpose(0, 2, 1)
    return precision, recall


def run_fast_lvis_eval(
        gt: Union[str, LVIS],
        results: Union[List[dict], str],
        iou_type: str = 'bbox',
        max_dets: int = 300,
        img_ids: Optional[Sequence[int]] = None,
        use_cats: bool = True,
        check_gt: bool = True,
        invalid_detections: str = 'error'
) -> Tuple[Dict[str, float], FastLVISEval]:
    """:func:`~mmlt.evaluation.lvis_eval.run_lvis_eval` on faster-coco-eval.

    Same arguments and outputs (summary dict with the keys of
    :func:`~mmlt.evaluation.lvis_eval.summary_keys`, -1 where there is no
    GT; an object for :func:`~mmlt.evaluation.lvis_eval.per_class_ap`).

    Raises:
        ImportError: faster-coco-eval is not installed.
        InvalidDetectionsError: invalid detections with
            ``invalid_detections='error'`` (see
            :func:`~mmlt.evaluation.lvis_eval.prepare_lvis_results`).
        ValueError: ``img_ids`` not in the GT; a detection without the
            ``bbox``/``segmentation`` that lvis-api needs.
    """
    _C = _import_faster()
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type}")
    source = gt if isinstance(gt, str) else None
    lvis_gt = gt if isinstance(gt, LVIS) else LVIS(gt)
    if not use_cats or not lvis_gt.cats:
        # class-agnostic (see module doc); without categories lvis-api
        # evaluates nothing (every value -1)
        return run_lvis_eval(lvis_gt, results, iou_type, max_dets, img_ids,
                             use_cats, check_gt, invalid_detections)
    if check_gt:
        check_lvis_gt(lvis_gt, source)
    with _GCPaused():
        return _run(_C, lvis_gt, results, iou_type, max_dets, img_ids,
                    invalid_detections)


def _load_results(lvis_gt, results, invalid_detections):
    copied = isinstance(results, str)
    source = f'LVIS results {results}' if copied else 'LVIS results'
    if copied:
        with open(results) as f:
            anns = json.load(f)
    else:
        anns = results
    if not isinstance(anns, list):
        raise TypeError('LVIS results must be a list of dicts.')
    if not isinstance(anns, CheckedResults):
        anns = check_lvis_results(lvis_gt, anns, invalid_detections, source)
    return anns


def _run(_C, lvis_gt, results, iou_type, max_dets, img_ids,
         invalid_detections):
    lp = LVISParams(iou_type)
    T, R, A = len(lp.iou_thrs), len(lp.rec_thrs), len(lp.area_rng)
    assert tuple(lp.area_rng_lbl) == AREA_LBL
    cat_ids = sorted(lvis_gt.get_cat_ids())
    K = len(cat_ids)
    cat_pos = {c: k for k, c in enumerate(cat_ids)}
    if img_ids is None:
        eval_imgs = sorted(lvis_gt.get_img_ids())
    else:
        eval_imgs = sorted(set(int(i) for i in img_ids))
        unknown = [i for i in eval_imgs if i not in lvis_gt.imgs]
        if unknown:
            raise ValueError(
                f'img_ids holds {len(unknown)} ids that are not images of '
                f'the GT (e.g. {unknown[:5]}).')

    # GT exactly as lvis-api's _prepare loads it (area filter, duplicates)
    gts = lvis_gt.load_anns(
        lvis_gt.get_ann_ids(img_ids=eval_imgs, cat_ids=cat_ids))
    gt_of = defaultdict(list)
    for g in gts:
        gt_of[g['image_id'], g['category_id']].append(g)
    imgs = lvis_gt.imgs
    # per evaluated image: categories whose detections are evaluated
    # (present in the GT or negative) and the not-exhaustive ones
    verified = {}
    for i in eval_imgs:
        verified[i] = set(c for c in imgs[i]['neg_category_ids']
                          if c in cat_pos)
    for img, cat in gt_of:
        verified[img].add(cat)
    nel = {i: set(imgs[i]['not_exhaustive_category_ids']) for i in eval_imgs}

    # detections: check, lvis-api's per-image limit and ids, selection
    anns = _load_results(lvis_gt, results, invalid_detections)
    if max_dets >= 0:
        anns = _limit_dets_per_image(anns, max_dets)
    box_branch = bool(anns) and 'bbox' in anns[0]
    sel, d_img, d_cat, d_score, d_area, d_mark = [], [], [], [], [], []
    inf = math.inf
    for i, ann in enumerate(anns):
        ver = verified.get(ann['image_id'])
        if ver is None or ann['category_id'] not in ver:
            continue
        if box_branch:
            box = ann.get('bbox')
            if box is None:
                raise ValueError(
                    f'LVIS results: detection {i} has no bbox but the first '
                    'has one (lvis-api needs a bbox on every detection '
                    'then).')
            area = box[2] * box[3]
        else:
            if 'segmentation' not in ann:
                raise ValueError(
                    f'LVIS results: detection {i} has neither bbox nor '
                    'segmentation.')
            area = mask_utils.area(ann['segmentation'])
        if not 0 < area < inf:  # lvis-api's get_ann_ids; NaN fails too
            continue
        sel.append(i)
        d_img.append(ann['image_id'])
        d_cat.append(ann['category_id'])
        d_score.append(ann['score'])
        d_area.append(area)
        d_mark.append(ann['category_id'] in nel[ann['image_id']])
    N = len(sel)
    sel = np.asarray(sel, np.int64)  # position = lvis-api id - 1
    d_img = np.asarray(d_img, np.int64).reshape(N)
    d_cat = np.fromiter((cat_pos[c] for c in d_cat), np.int64, N)
    d_score = np.asarray(d_score, np.float64).reshape(N)
    d_area = np.asarray(d_area, np.float64).reshape(N)
    d_mark = np.asarray(d_mark, bool).reshape(N)

    # pairs: detections grouped by (image, category), score desc, then
    # result order (= C++ stable sort, lvis-api mergesort)
    order = np.lexsort((sel, -d_score, d_cat, d_img))
    pk_img, pk_cat = d_img[order], d_cat[order]
    new = np.r_[True, (pk_img[1:] != pk_img[:-1]) |
                (pk_cat[1:] != pk_cat[:-1])] if N else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], N].astype(np.int64)
    in_gt_pair = np.zeros(N, bool)
    pair_gts, pair_rng = [], []
    for s, e in zip(starts.tolist(), ends.tolist()):
        g = gt_of.get((int(pk_img[s]), cat_ids[pk_cat[s]]))
        if g:
            in_gt_pair[s:e] = True
            pair_gts.append(g)
            pair_rng.append((s, e))

    # per area range: TP/FP of every detection at every threshold, in the
    # pair order above
    tp = np.zeros((A, T, N), bool)
    fp = np.zeros((A, T, N), bool)
    area_sorted = d_area[order]
    mark_sorted = d_mark[order]
    for a, (lo, hi) in enumerate(lp.area_rng):
        # unmatched: ignored when out of range or not exhaustive
        fp[a] = ~((area_sorted < lo) | (area_sorted > hi) | mark_sorted)
    fp[:, :, in_gt_pair] = False
    if pair_gts:
        _match(_C, lp, lvis_gt, anns, sel[order], d_score[order],
               area_sorted, mark_sorted, pair_gts, pair_rng, iou_type,
               box_branch, tp, fp)

    # GT counts per category and area range
    num_gt = np.zeros((A, K), np.int64)
    if gts:
        g_area = np.array([g['area'] for g in gts], np.float64)
        g_ign = np.array([bool(g.get('ignore', 0)) for g in gts])
        g_cat = np.array([cat_pos[g['category_id']] for g in gts])
        for a, (lo, hi) in enumerate(lp.area_rng):
            ok = ~(g_ign | (g_area < lo) | (g_area > hi))
            num_gt[a] = np.bincount(g_cat[ok], minlength=K)

    # accumulation order: category, score desc, image, result order
    acc = np.lexsort((sel[order], pk_img, -d_score[order], pk_cat))
    precision = -np.ones((T, R, K, A))
    recall = -np.ones((T, K, A))
    params = SimpleNamespace(cat_ids=cat_ids,
                             img_ids=eval_imgs,
                             area_rng_lbl=list(AREA_LBL),
                             area_rng=[list(r) for r in lp.area_rng],
                             iou_thrs=np.asarray(lp.iou_thrs),
                             rec_thrs=np.asarray(lp.rec_thrs),
                             max_dets=max_dets,
                             iou_type=iou_type,
                             use_cats=1)
    for a in range(A):
        precision[..., a], recall[..., a] = _accumulate(
            tp[a][:, acc], fp[a][:, acc], pk_cat[acc], num_gt[a], params)

    freq_groups = [[] for _ in FREQ_GROUPS]
    for k, c in enumerate(cat_ids):
        freq_groups[FREQ_GROUPS.index(lvis_gt.cats[c]['frequency'])].append(k)
    stats = _summarize(precision, recall, params, freq_groups)
    return stats, FastLVISEval(params, precision, recall, stats, freq_groups)


def _match(_C, lp, lvis_gt, anns, ids, scores, areas, marks, pair_gts,
           pair_rng, iou_type, box_branch, tp, fp):
    """Greedy matching of the pairs with GT and detections (C++), written
    into ``tp``/``fp`` ``[A, T, N]``."""
    T = len(lp.iou_thrs)
    imgs = lvis_gt.imgs
    gt_ds, dt_ds = _C.Dataset(), _C.Dataset()
    payloads = []
    max_nd = 1
    for p, (g_list, (s, e)) in enumerate(zip(pair_gts, pair_rng)):
        max_nd = max(max_nd, e - s)
        img = imgs[g_list[0]['image_id']]
        g_pay = []
        for j, g in enumerate(g_list, 1):
            # surrogate ids: positive, or 0 where lvis-api's id is 0
            gt_ds.append_ref(
                p, 0,
                dict(id=0 if g['id'] == 0 else j,
                     area=float(g['area']),
                     ignore=bool(g.get('ignore', 0)),
                     iscrowd=False))
            g_pay.append(g['bbox'] if iou_type == 'bbox' else _rle_of(g, img))
        d_pay = []
        for d in range(s, e):
            dt_ds.append_ref(
                p, 0,
                dict(id=int(ids[d]) + 1,
                     score=float(scores[d]),
                     area=float(areas[d]),
                     lvis_mark=bool(marks[d])))
            d_pay.append(_det_payload(anns[ids[d]], img, iou_type,
                                      box_branch))
        payloads.append((d_pay, g_pay))
    ious = [[np.asarray(x, np.float64).reshape(len(d), len(g)).tolist()]
            for x, (d, g) in zip(_ious(payloads), payloads)]
    del payloads
    P = len(pair_rng)
    evals = _C.COCOevalEvaluateImages(
        [list(r) for r in lp.area_rng], max_nd, list(lp.iou_thrs), ious,
        gt_ds, dt_ds, [float(p) for p in range(P)], [0.0], True)
    del ious
    # gather index: C++ stores [t, d] per pair, t-major
    rng = np.asarray(pair_rng, np.int64)
    nd = rng[:, 1] - rng[:, 0]
    pos = np.concatenate([np.arange(s, e) for s, e in pair_rng])
    pair_of = np.repeat(np.arange(P), nd)
    flat_start = np.r_[0, np.cumsum(nd * T)[:-1]]
    local = pos - np.repeat(rng[:, 0], nd)
    gather = (flat_start[pair_of][None, :] +
              np.arange(T)[:, None] * nd[pair_of][None, :] + local[None, :])
    for a in range(len(lp.area_rng)):
        dm, di = [], []
        for ev in evals[a * P:(a + 1) * P]:
            st = ev.__getstate__()
            dm.extend(st[0])
            di.extend(st[4])
        dm = np.asarray(dm, np.int64)[gather]
        di = np.asarray(di, bool)[gather]
        # lvis-api: TP when matched to a GT of non-zero id, FP when
        # unmatched, neither when ignored
        tp[a][:, pos] = (dm != 0) & ~di
        fp[a][:, pos] = (dm == 0) & ~di


def _det_payload(ann, img, iou_type, box_branch):
    """What lvis-api's ``compute_iou`` reads of a prepared detection."""
    if iou_type == 'bbox':
        if 'bbox' in ann:
            return ann['bbox']
        return mask_utils.toBbox(ann['segmentation'])
    if 'segmentation' not in ann:
        # box-only detection: lvis-api's box polygon
        x1, y1, w, h = ann['bbox']
        x2, y2 = x1 + w, y1 + h
        return _rle_of(dict(segmentation=[[x1, y1, x1, y2, x2, y2, x2, y1]]),
                       img)
    return _rle_of(ann, img)
