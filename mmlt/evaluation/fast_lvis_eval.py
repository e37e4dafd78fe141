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
from operator import itemgetter
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
    every GT a non-crowd as in lvis-api.  (Serial: pycocotools holds the
    GIL, threads gave no speed-up.)"""
    return [mask_utils.iou(d, g, [0] * len(g)) for d, g in payloads]


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


def _lookup(values: list, keys: Sequence) -> np.ndarray:
    """Position of each value in ``keys`` (sorted, unique), -1 if absent;
    vectorised for integer ids."""
    arr = np.asarray(values) if values else np.zeros(0, np.int64)
    keys_arr = np.asarray(keys)
    if arr.ndim == 1 and arr.dtype.kind in 'iu' and \
            keys_arr.dtype.kind in 'iu':
        at = np.searchsorted(keys_arr, arr)
        at_c = np.minimum(at, max(len(keys) - 1, 0))
        hit = (at < len(keys)) & (keys_arr[at_c] == arr) if len(keys) else \
            np.zeros(arr.shape, bool)
        return np.where(hit, at, -1).astype(np.int64)
    pos = {k: i for i, k in enumerate(keys)}
    return np.fromiter((pos.get(v, -1) for v in values), np.int64,
                       len(values))


def _codes(values: list) -> np.ndarray:
    """Integer codes of hashable ``values``, equal codes for equal values."""
    arr = np.asarray(values) if values else np.zeros(0, np.int64)
    if arr.ndim == 1 and arr.dtype.kind in 'iu':
        return np.unique(arr, return_inverse=True)[1].reshape(-1)
    index = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values),
                       np.int64, len(values))


def _select_dets(anns, max_dets, eval_imgs, cat_pos, verified, nel):
    """lvis-api's detection preparation and selection, vectorised.

    ``LVISResults`` keeps the top ``max_dets`` per image (stable: ties in
    result order) and numbers the kept ones; ``LVISEval._prepare`` then
    loads those of the evaluated images and categories with ``0 < area <
    inf`` and keeps the verified ones.  Returns the kept detections'
    result positions (which order ties as lvis-api's ids do: only their
    order within an image matters), evaluated-image index, category index,
    score, area, not-exhaustive flag, and whether areas are box areas.
    """
    n = len(anns)
    K = len(cat_pos)
    img_col = list(map(itemgetter('image_id'), anns))
    img_code = _codes(img_col)
    score = np.array(list(map(itemgetter('score'), anns)),
                     np.float64).reshape(n)
    keep = np.ones(n, bool)
    if max_dets >= 0 and n:
        if max_dets == 0:
            keep[:] = False
        elif np.bincount(img_code).max() > max_dets:
            order = np.lexsort((np.arange(n), -score, img_code))
            first = np.r_[True, img_code[order][1:] != img_code[order][:-1]]
            start = np.maximum.accumulate(
                np.where(first, np.arange(n), 0))
            keep[order[np.arange(n) - start >= max_dets]] = False
    box_branch = False
    if keep.any():
        # lvis-api picks the area rule from the first prepared detection:
        # the first image's first detection, or its top one if it was cut
        first_img = img_code == img_code[0]
        cand = np.flatnonzero(first_img & keep)
        lead = cand[np.lexsort((cand, -score[cand]))[0]] if (
            keep[first_img].sum() < first_img.sum()) else cand[0]
        box_branch = 'bbox' in anns[int(lead)]
    # evaluated image and category of each detection (-1: not evaluated)
    d_img = _lookup(img_col, eval_imgs)
    d_cat = _lookup(list(map(itemgetter('category_id'), anns)),
                    list(cat_pos))
    keep &= (d_img >= 0) & (d_cat >= 0)
    pair = d_img * K + d_cat
    keep &= np.isin(pair, verified)
    cand = np.flatnonzero(keep)
    try:
        if box_branch:
            area = [anns[i]['bbox'] for i in cand.tolist()]
            area = [b[2] * b[3] for b in area]
        else:
            area = [
                mask_utils.area(anns[i]['segmentation'])
                for i in cand.tolist()
            ]
    except KeyError as e:
        raise ValueError(
            f'LVIS results: a detection has no {e}, which lvis-api needs '
            'on every detection (the first detection has a bbox: all need '
            'one; else all need a segmentation).') from None
    area = np.asarray(area, np.float64).reshape(cand.size)
    ok = (area > 0) & (area < np.inf)  # lvis-api's get_ann_ids; NaN fails
    cand, area = cand[ok], area[ok]
    mark = np.isin(pair[cand], nel)
    return (cand, d_img[cand], d_cat[cand], score[cand], area, mark,
            box_branch)


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
    # (image index, category index) keys of the verified pairs (GT present
    # or negative) and of the not-exhaustive ones
    verified, nel = set(), []
    for i, img_id in enumerate(eval_imgs):
        img = imgs[img_id]
        verified.update(i * K + cat_pos[c] for c in img['neg_category_ids']
                        if c in cat_pos)
        nel.extend(i * K + cat_pos[c]
                   for c in img['not_exhaustive_category_ids']
                   if c in cat_pos)
    img_pos = {img_id: i for i, img_id in enumerate(eval_imgs)}
    verified.update(img_pos[i] * K + cat_pos[c] for i, c in gt_of)
    verified = np.fromiter(verified, np.int64, len(verified))
    nel = np.asarray(nel, np.int64)

    anns = _load_results(lvis_gt, results, invalid_detections)
    (pos, d_img, d_cat, d_score, d_area, d_mark,
     box_branch) = _select_dets(anns, max_dets, eval_imgs, cat_pos,
                                verified, nel)
    N = pos.size

    # pairs: detections grouped by (image, category), score desc, then
    # result order (= C++ stable sort, lvis-api mergesort)
    order = np.lexsort((pos, -d_score, d_cat, d_img))
    pos, d_img, d_cat = pos[order], d_img[order], d_cat[order]
    d_score, d_area, d_mark = d_score[order], d_area[order], d_mark[order]
    new = np.r_[True, (d_img[1:] != d_img[:-1]) |
                (d_cat[1:] != d_cat[:-1])] if N else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], N].astype(np.int64)
    in_gt_pair = np.zeros(N, bool)
    pair_gts, pair_rng = [], []
    for s, e, i, k in zip(starts.tolist(), ends.tolist(),
                          d_img[starts].tolist(), d_cat[starts].tolist()):
        g = gt_of.get((eval_imgs[i], cat_ids[k]))
        if g:
            in_gt_pair[s:e] = True
            pair_gts.append(g)
            pair_rng.append((s, e))

    # per area range: TP/FP of every detection at every threshold
    tp = np.zeros((A, T, N), bool)
    fp = np.zeros((A, T, N), bool)
    unmatched_ign = np.zeros((A, N), bool)
    for a, (lo, hi) in enumerate(lp.area_rng):
        # lvis-api ignores an unmatched detection out of the area range or
        # of a not-exhaustive category
        unmatched_ign[a] = (d_area < lo) | (d_area > hi) | d_mark
        fp[a] = ~unmatched_ign[a] & ~in_gt_pair
    if pair_gts:
        _match(_C, lp, lvis_gt, anns, pos, pair_gts, pair_rng, iou_type,
               box_branch, unmatched_ign, tp, fp)

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
    acc = np.lexsort((pos, d_img, -d_score, d_cat))
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
            tp[a][:, acc], fp[a][:, acc], d_cat[acc], num_gt[a], params)

    freq_groups = [[] for _ in FREQ_GROUPS]
    for k, c in enumerate(cat_ids):
        freq_groups[FREQ_GROUPS.index(lvis_gt.cats[c]['frequency'])].append(k)
    stats = _summarize(precision, recall, params, freq_groups)
    return stats, FastLVISEval(params, precision, recall, stats, freq_groups)


def _match(_C, lp, lvis_gt, anns, pos, pair_gts, pair_rng, iou_type,
           box_branch, unmatched_ign, tp, fp):
    """Greedy matching of the pairs with GT and detections (faster-coco-eval
    C++, one call), written into ``tp``/``fp`` ``[A, T, N]``.

    The library only needs ids, areas and ignore flags of the GT (positive
    surrogate ids: it reads ids as unsigned, so a negative id would become
    0) and, of the detections, a positive id each: they arrive sorted by
    score, so its stable sort keeps them as they are, and the ignore rule
    of unmatched detections is applied here.
    """
    T = len(lp.iou_thrs)
    imgs = lvis_gt.imgs
    P = len(pair_rng)
    det_rec = dict(id=1)
    gt_items, dt_items, payloads, zero_id = [], [], [], []
    max_nd = 1
    segm = iou_type == 'segm'
    for p, (g_list, (s, e)) in enumerate(zip(pair_gts, pair_rng)):
        max_nd = max(max_nd, e - s)
        img = imgs[g_list[0]['image_id']]
        gt_items.append((float(p), 0.0, [
            dict(id=j, area=float(g['area']), ignore=bool(g.get('ignore', 0)))
            for j, g in enumerate(g_list, 1)
        ]))
        dt_items.append((float(p), 0.0, [det_rec] * (e - s)))
        zero_id.extend(g['id'] == 0 for g in g_list)
        if segm:
            g_pay = [_rle_of(g, img) for g in g_list]
            d_pay = []
            for i in pos[s:e].tolist():
                ann = anns[i]
                seg = ann.get('segmentation')
                if isinstance(seg, dict) and not isinstance(
                        seg['counts'], list):
                    d_pay.append(seg)  # compressed RLE: used as it is
                else:
                    d_pay.append(_det_payload(ann, img, iou_type))
        else:
            g_pay = [g['bbox'] for g in g_list]
            d_pay = [_det_payload(anns[i], img, iou_type)
                     for i in pos[s:e].tolist()]
        payloads.append((d_pay, g_pay))
    gt_ds, dt_ds = _C.Dataset(), _C.Dataset()
    gt_ds.load_tuple((P, gt_items))
    dt_ds.load_tuple((P, dt_items))
    del gt_items, dt_items
    ious = [[x.tolist() if isinstance(x, np.ndarray) else x]
            for x in _ious(payloads)]
    del payloads

    # GT ignore flags per area range (lvis-api: 'ignore' or out of range)
    g_all = [g for g_list in pair_gts for g in g_list]
    g_area = np.array([float(g['area']) for g in g_all])
    g_ign = np.array([bool(g.get('ignore', 0)) for g in g_all])
    g_flags = [
        g_ign | (g_area < lo) | (g_area > hi) for lo, hi in lp.area_rng
    ]
    g_pair = np.repeat(np.arange(P), [len(g) for g in pair_gts])
    gt_start = np.r_[0, np.cumsum([len(g) for g in pair_gts])[:-1]]

    def uniform(flags):
        # per pair: all its GT ignored, or none
        n_ign = np.bincount(g_pair, flags, minlength=P)
        return (n_ign == 0) | (n_ign == np.bincount(g_pair, minlength=P))

    # the library stores [t, d] per pair, t-major: gather into [T, n]
    rng = np.asarray(pair_rng, np.int64)
    nd = rng[:, 1] - rng[:, 0]
    idx = np.concatenate([np.arange(s, e) for s, e in pair_rng])
    pair_of = np.repeat(np.arange(P), nd)

    def match(area_rng, pairs):
        """``[T, n]`` matched GT surrogate ids (0: none) of the detections
        of ``pairs`` (sorted)."""
        evals = _C.COCOevalEvaluateImages([list(area_rng)], max_nd,
                                          list(lp.iou_thrs),
                                          [ious[p] for p in pairs], gt_ds,
                                          dt_ds, [float(p) for p in pairs],
                                          [0.0], True)
        dm = []
        for ev in evals:
            dm.extend(ev.__getstate__()[0])
        sub_nd = nd[pairs]
        flat_start = np.r_[0, np.cumsum(sub_nd * T)[:-1]]
        which = np.repeat(np.arange(len(pairs)), sub_nd)
        local = np.concatenate([np.arange(n) for n in sub_nd.tolist()])
        gather = (flat_start[which][None, :] +
                  np.arange(T)[:, None] * sub_nd[which][None, :] +
                  local[None, :])
        return np.asarray(dm, np.int64)[gather]

    # The matching of a pair depends on the area range only through its GT
    # ignore flags, and only when they are mixed (ignored GT are tried
    # last): pairs whose flags are uniform in both ranges, or equal, are
    # matched once, with the first range.
    all_pairs = np.arange(P)
    dm_first = match(lp.area_rng[0], all_pairs)
    uni_first = uniform(g_flags[0])
    det_start = np.r_[0, np.cumsum(nd)[:-1]]
    zero_id = np.asarray(zero_id, bool)
    for a in range(len(lp.area_rng)):
        dm = dm_first
        if a > 0:
            same = np.bincount(g_pair, g_flags[a] != g_flags[0],
                               minlength=P) == 0
            same |= uni_first & uniform(g_flags[a])
            redo = np.flatnonzero(~same)
            if redo.size:
                dm = dm_first.copy()
                cols = np.concatenate(
                    [np.arange(det_start[p], det_start[p] + nd[p])
                     for p in redo.tolist()])
                dm[:, cols] = match(lp.area_rng[a], redo)
        matched = dm > 0
        gt_index = np.where(matched, gt_start[pair_of] + dm - 1, 0)
        real = matched & ~zero_id[gt_index]  # lvis-api: id 0 never a TP
        # lvis-api: ignored if matched to an ignored GT, or unmatched (or
        # matched to id 0) and out of range / not exhaustive
        ign = (matched & g_flags[a][gt_index]) | (~real &
                                                  unmatched_ign[a][idx])
        tp[a][:, idx] = real & ~ign
        fp[a][:, idx] = ~real & ~ign


def _det_payload(ann, img, iou_type):
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
