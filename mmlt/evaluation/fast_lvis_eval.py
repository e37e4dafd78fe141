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
  load_checked_results`), lvis-api's per-image limit (``max_dets`` < 0: no
  limit), ids and areas (box area when the first detection has a box, else
  the mask area), then lvis-api's selection: images in ``img_ids``,
  categories of the GT, ``0 < area < inf`` (a zero-width box clamped at the
  image border takes no part), verified categories only (in the image's GT
  or ``neg_category_ids``).  Masks and IoUs (pycocotools, as lvis-api).
* Matching: a detection whose IoU with every GT of its (image, category)
  is below the lowest threshold never matches (nor takes a GT from
  another), so only the others go to faster-coco-eval's C++ greedy matcher
  (``COCOevalEvaluateImages``, lvis-api's ``evaluate_img`` rules), once
  per area range where a pair's GT ignore flags make the result differ.
  GT get positive surrogate ids (the library reads ids as unsigned: a
  negative or float id would become 0); lvis-api's rule that a match to GT
  id 0 is no TP is applied here.  The rest are false positives unless
  ignored (area out of range, not-exhaustive category).
* Accumulation: lvis-api's (per category and area range, detections
  sorted by score, ties in image then result order; precision envelope;
  101 recall thresholds), vectorised: only TPs are visited, as recall and
  the envelope change only there (:func:`_accumulate`).

Where the time goes at LVIS scale (segm): mostly pycocotools' mask IoU
(the RLE decoding lvis-api does too) and mmlt's invalid-detection check,
then detection selection, GT polygons to RLE and the C++ matching; the
accumulation is small.  Garbage collection is paused during the run
(:class:`_GCPaused`).

Class-agnostic evaluation (``use_cats=False``, proposal recall) and GT
without categories are delegated to the lvis-api backend.  Equality with
lvis-api (every summary value and per-class AP, to 1e-9) is tested in
``tests/test_evaluation/test_fast_lvis_eval.py`` and, on random inputs
mixing degenerate boxes, border areas, ties and limits,
``tests/test_evaluation/test_fast_lvis_parity.py``.
"""
import gc
from collections import defaultdict
from operator import itemgetter
from types import SimpleNamespace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pycocotools.mask as mask_utils
from lvis import LVIS
from lvis.eval import Params as LVISParams

from .lvis_eval import (AP_KEYS, FREQ_GROUPS, check_lvis_gt,
                        load_checked_results, run_lvis_eval)

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


def _gt_rles(gts, img):
    """``LVIS.ann_to_rle`` of GTs of one image, the polygons converted in
    one call (a one-part polygon is not merged: merging one RLE returns
    the same mask)."""
    polys, parts = [], []
    for g in gts:
        segm = g['segmentation']
        if isinstance(segm, list) and segm and all(
                isinstance(p, list) and len(p) > 4 for p in segm):
            polys.extend(segm)
            parts.append(len(segm))
        else:
            parts.append(0)  # RLE or unusual polygon: lvis-api's path
    rles = mask_utils.frPyObjects(polys, img['height'],
                                  img['width']) if polys else []
    out, k = [], 0
    for g, n in zip(gts, parts):
        if n == 0:
            out.append(_rle_of(g, img))
        elif n == 1:
            out.append(rles[k])
        else:
            out.append(mask_utils.merge(rles[k:k + n]))
        k += n
    return out


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


def _segment_rev_cummax(values, seg):
    """Running maximum from the right within each segment (``seg``
    ascending), exact: values are replaced by their ranks, and each
    segment is lifted above the ones to its right."""
    if values.size == 0:
        return values
    uniq, rank = np.unique(values, return_inverse=True)
    rank = rank.reshape(-1)
    lift = (seg.max() - seg[::-1]) * (uniq.size + 1)
    top = np.maximum.accumulate(lift + rank[::-1]) - lift
    return uniq[top[::-1]]


def _accumulate(tp, fp, cells, num_gt, params):
    """lvis-api's ``accumulate`` for one area range, all categories.

    Args:
        tp, fp (ndarray): ``[T, N]`` bool, entries sorted by (category,
            score desc, image, result order), only of categories with GT;
            an entry ignored at a threshold has both False there.
        cells (ndarray): ``[N]`` category index of each entry.
        num_gt (ndarray): ``[K]`` non-ignored GT per category.

    lvis-api samples the precision envelope at the first entry whose
    recall reaches each threshold.  Recall only grows at TPs, so that
    entry is the m-th TP of the category (m from :func:`_min_count`), or
    its first entry for m = 0; and the envelope (max precision to the
    right) is a max over TPs, as precision only grows at TPs.  So only the
    TPs are visited (ignored entries repeat the previous values and change
    no sample).  Same float operations as lvis-api.

    Returns:
        precision ``[T, R, K]`` and recall ``[T, K]`` (-1 without GT).
    """
    T, R, K = len(params.iou_thrs), len(params.rec_thrs), len(num_gt)
    precision = -np.ones((T, R, K))
    recall = -np.ones((T, K))
    has_gt = num_gt > 0
    precision[:, :, has_gt] = 0
    recall[:, has_gt] = 0
    N = cells.size
    if N == 0:
        return precision, recall
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    S = starts.size
    seg_cat = cells[starts]
    seg_of = np.repeat(np.arange(S), np.diff(np.r_[starts, N]))
    m = _min_count(num_gt[seg_cat], params.rec_thrs)  # [S, R]
    for t in range(T):
        tp_pos = np.flatnonzero(tp[t])
        seg = seg_of[tp_pos]
        cnt = np.bincount(seg, minlength=S)
        first = np.r_[0, np.cumsum(cnt)[:-1]]
        tp_sum = np.arange(1, tp_pos.size + 1) - first[seg]
        fp_cum = np.cumsum(fp[t], dtype=np.int64)
        fp_base = np.where(starts > 0, fp_cum[starts - 1], 0)
        fp_sum = fp_cum[tp_pos] - fp_base[seg]
        # lvis-api: tp / (fp + tp + eps) on float sums
        pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        env = _segment_rev_cummax(pr, seg)
        recall[t, seg_cat] = cnt / num_gt[seg_cat]
        j = first[:, None] + m - 1
        reach = (m >= 1) & (m <= cnt[:, None])
        vals = np.zeros((S, R))
        if env.size:
            vals = np.where(reach, env[np.clip(j, 0, env.size - 1)], 0.0)
            # m = 0 (threshold 0): the first entry, envelope = best TP
            at0 = (m == 0) & (cnt[:, None] > 0)
            vals = np.where(at0, env[np.minimum(first, env.size - 1)][:,
                                                                      None],
                            vals)
        precision[t][:, seg_cat] = vals.T
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


def _array(values: list) -> np.ndarray:
    return np.asarray(values) if values else np.zeros(0, np.int64)


def _lookup(values: list, keys: Sequence, arr=None) -> np.ndarray:
    """Position of each value in ``keys`` (sorted, unique), -1 if absent;
    vectorised for integer ids (``arr``: ``values`` as an array)."""
    arr = _array(values) if arr is None else arr
    keys_arr = np.asarray(keys)
    if arr.ndim == 1 and arr.dtype.kind in 'iu' and \
            keys_arr.dtype.kind in 'iu':
        if len(keys) and 0 <= keys_arr.min() and keys_arr.max() < 2**24:
            # small non-negative ids (LVIS): a direct table
            table = np.full(int(keys_arr.max()) + 1, -1, np.int64)
            table[keys_arr] = np.arange(len(keys))
            inside = (arr >= 0) & (arr < table.size)
            return np.where(inside, table[np.where(inside, arr, 0)], -1)
        at = np.searchsorted(keys_arr, arr)
        at_c = np.minimum(at, max(len(keys) - 1, 0))
        hit = (at < len(keys)) & (keys_arr[at_c] == arr) if len(keys) else \
            np.zeros(arr.shape, bool)
        return np.where(hit, at, -1).astype(np.int64)
    pos = {k: i for i, k in enumerate(keys)}
    return np.fromiter((pos.get(v, -1) for v in values), np.int64,
                       len(values))


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
    img_arr = _array(img_col)
    # evaluated image of each detection (-1: not evaluated)
    d_img = _lookup(img_col, eval_imgs, img_arr)
    score = np.fromiter(map(itemgetter('score'), anns), np.float64, n)
    if img_arr.ndim == 1 and img_arr.dtype.kind in 'iu':
        first_img = img_arr == img_arr[0] if n else np.zeros(0, bool)
    else:
        first_img = np.fromiter((v == img_col[0] for v in img_col), bool, n)
    keep = np.ones(n, bool)
    if max_dets >= 0 and n:
        if max_dets == 0:
            keep[:] = False
        else:
            # the limit matters for the evaluated images and the first
            # one (its first prepared detection picks the area rule)
            code = d_img.copy()
            code[first_img] = len(eval_imgs)
            counted = np.flatnonzero(code >= 0)
            if np.bincount(code[counted]).max() > max_dets:
                order = counted[np.lexsort(
                    (counted, -score[counted], code[counted]))]
                c = code[order]
                first = np.r_[True, c[1:] != c[:-1]]
                start = np.maximum.accumulate(
                    np.where(first, np.arange(order.size), 0))
                keep[order[np.arange(order.size) - start >= max_dets]] = \
                    False
    box_branch = False
    if keep.any():
        # lvis-api picks the area rule from the first prepared detection:
        # the first image's first detection, or its top one if it was cut
        cand = np.flatnonzero(first_img & keep)
        lead = cand[np.lexsort((cand, -score[cand]))[0]] if (
            keep[first_img].sum() < first_img.sum()) else cand[0]
        box_branch = 'bbox' in anns[int(lead)]
    d_cat = _lookup(list(map(itemgetter('category_id'), anns)),
                    list(cat_pos))
    keep &= (d_img >= 0) & (d_cat >= 0)
    pair = np.where(keep, d_img * K + d_cat, 0)
    keep &= verified[pair]
    cand = np.flatnonzero(keep)
    try:
        if box_branch:
            area = [
                b[2] * b[3] for b in map(itemgetter('bbox'),
                                         map(anns.__getitem__, cand.tolist()))
            ]
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
    mark = nel[pair[cand]]
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
    # as lookup tables over (image index, category index)
    table = np.zeros(max(len(eval_imgs) * K, 1), bool)
    table[np.fromiter(verified, np.int64, len(verified))] = True
    verified = table
    table = np.zeros(max(len(eval_imgs) * K, 1), bool)
    table[np.asarray(nel, np.int64)] = True
    nel = table

    anns = load_checked_results(lvis_gt, results, invalid_detections)
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
    pair_gts, pair_rng = [], []
    for s, e, i, k in zip(starts.tolist(), ends.tolist(),
                          d_img[starts].tolist(), d_cat[starts].tolist()):
        g = gt_of.get((eval_imgs[i], cat_ids[k]))
        if g:
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
        fp[a] = ~unmatched_ign[a]
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
    cat_of_acc = d_cat[acc]
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
        # entries of categories with GT that count at some threshold
        used = (num_gt[a] > 0)[cat_of_acc] & (tp[a] | fp[a]).any(0)[acc]
        sel = acc[used]
        precision[..., a], recall[..., a] = _accumulate(
            tp[a][:, sel], fp[a][:, sel], cat_of_acc[used], num_gt[a],
            params)

    freq_groups = [[] for _ in FREQ_GROUPS]
    for k, c in enumerate(cat_ids):
        freq_groups[FREQ_GROUPS.index(lvis_gt.cats[c]['frequency'])].append(k)
    stats = _summarize(precision, recall, params, freq_groups)
    return stats, FastLVISEval(params, precision, recall, stats, freq_groups)


def _match(_C, lp, lvis_gt, anns, pos, pair_gts, pair_rng, iou_type,
           box_branch, unmatched_ign, tp, fp):
    """Greedy matching of the pairs with GT and detections, written into
    ``tp``/``fp`` ``[A, T, N]``.

    A detection whose IoU with every GT of its pair is below the lowest
    threshold never matches and never takes a GT from another detection,
    so only the others go to faster-coco-eval's C++ matcher (one call per
    area range, on the pairs whose result can differ from the first
    range's).  The library gets GT areas and ignore flags, positive
    surrogate GT ids (it reads ids as unsigned: a negative id would become
    0) and one shared positive id for the detections, which arrive sorted
    by score (its stable sort keeps them); the ignore rule of unmatched
    detections and lvis-api's GT-id-0 rule are applied here.
    """
    T = len(lp.iou_thrs)
    imgs = lvis_gt.imgs
    P = len(pair_rng)
    segm = iou_type == 'segm'
    # detection payloads of the pairs, in pair order
    d_pos = np.concatenate([pos[s:e] for s, e in pair_rng]).tolist()
    d_anns = list(map(anns.__getitem__, d_pos))
    if segm:
        try:
            segs = list(map(itemgetter('segmentation'), d_anns))
            counts = list(map(itemgetter('counts'), segs))
            # compressed RLEs (mmdet's) are used as they are; anything
            # else (polygons, uncompressed RLE, box-only) as lvis-api
            # converts it
            plain = set(map(type, segs)) == {dict} and list not in set(
                map(type, counts))
        except (KeyError, TypeError):
            segs, plain = None, False
    else:
        try:
            segs, plain = list(map(itemgetter('bbox'), d_anns)), True
        except KeyError:
            segs, plain = None, False
    # GT masks: one polygon conversion per image
    g_pays = []
    if segm:
        run = []
        for p, g_list in enumerate(pair_gts):
            run.append(g_list)
            if p + 1 == P or pair_gts[p + 1][0]['image_id'] != \
                    g_list[0]['image_id']:
                rles = _gt_rles([g for gl in run for g in gl],
                                imgs[g_list[0]['image_id']])
                j = 0
                for gl in run:
                    g_pays.append(rles[j:j + len(gl)])
                    j += len(gl)
                run = []
    else:
        g_pays = [[g['bbox'] for g in g_list] for g_list in pair_gts]
    payloads, k = [], 0
    for g_list, g_pay, (s, e) in zip(pair_gts, g_pays, pair_rng):
        if plain:
            d_pay = segs[k:k + e - s]
        else:
            img = imgs[g_list[0]['image_id']]
            d_pay = [
                _det_payload(a, img, iou_type) for a in d_anns[k:k + e - s]
            ]
        k += e - s
        payloads.append((d_pay, g_pay))
    del d_anns, segs, g_pays
    ious = _ious(payloads)
    del payloads

    # GT ignore flags per area range (lvis-api: 'ignore' or out of range)
    g_count = np.array([len(g) for g in pair_gts], np.int64)
    g_all = [g for g_list in pair_gts for g in g_list]
    g_area = np.array([float(g['area']) for g in g_all])
    g_ign = np.array([bool(g.get('ignore', 0)) for g in g_all])
    g_flags = [
        g_ign | (g_area < lo) | (g_area > hi) for lo, hi in lp.area_rng
    ]
    zero_id = np.array([g['id'] == 0 for g in g_all], bool)
    gt_start = np.r_[0, np.cumsum(g_count)[:-1]]

    # detections that can match (IoU >= lowest threshold with some GT)
    thr0 = min(float(lp.iou_thrs[0]), 1 - 1e-10)
    c_pairs, c_rows, c_ious, e_det, e_gt = [], [], [], [], []
    n_c = 0
    for p, x in enumerate(ious):
        x = np.asarray(x, np.float64).reshape(pair_rng[p][1] -
                                              pair_rng[p][0], g_count[p])
        elig = x >= thr0
        can = np.flatnonzero(elig.any(1))
        if can.size:
            c_pairs.append(p)
            c_rows.append(pair_rng[p][0] + can)
            c_ious.append([x[can].tolist()])
            # (candidate, GT) pairs with IoU >= the lowest threshold
            dd, gg = np.nonzero(elig[can])
            e_det.append(dd + n_c)
            e_gt.append(gg + gt_start[p])
            n_c += can.size
    del ious
    # Detections that cannot match are FPs unless ignored, as set by the
    # caller; the candidates are matched here.
    if not c_pairs:
        return
    c_nd = np.array([len(r) for r in c_rows], np.int64)
    cand = np.concatenate(c_rows)  # global positions, by C++ pair
    c_pair = np.asarray(c_pairs, np.int64)
    cand_pair = np.repeat(c_pair, c_nd)
    gt_ds, dt_ds = _C.Dataset(), _C.Dataset()
    det_rec = dict(id=1)
    gt_ds.load_tuple((len(c_pairs), [(float(q), 0.0, [
        dict(id=j, area=float(g['area']), ignore=bool(g.get('ignore', 0)))
        for j, g in enumerate(pair_gts[p], 1)
    ]) for q, p in enumerate(c_pairs)]))
    dt_ds.load_tuple((len(c_pairs), [(float(q), 0.0, [det_rec] * len(r))
                                     for q, r in enumerate(c_rows)]))
    max_nd = int(c_nd.max())
    c_start = np.r_[0, np.cumsum(c_nd)[:-1]]

    def match(area_rng, qs):
        """``[T, n]`` matched GT surrogate ids (0: none) of the candidates
        of C++ pairs ``qs`` (ascending), and their candidate columns."""
        evals = _C.COCOevalEvaluateImages([list(area_rng)], max_nd,
                                          list(lp.iou_thrs),
                                          [c_ious[q] for q in qs], gt_ds,
                                          dt_ds, [float(q) for q in qs],
                                          [0.0], True)
        dm = []
        for ev in evals:
            dm.extend(ev.__getstate__()[0])
        sub_nd = c_nd[qs]
        start = np.r_[0, np.cumsum(sub_nd * T)[:-1]]
        which = np.repeat(np.arange(len(qs)), sub_nd)
        local = np.arange(which.size) - np.repeat(
            np.r_[0, np.cumsum(sub_nd)[:-1]], sub_nd)
        gather = (start[which][None, :] +
                  np.arange(T)[:, None] * sub_nd[which][None, :] +
                  local[None, :])
        cols = np.repeat(c_start[qs], sub_nd) + local
        return np.asarray(dm, np.int64)[gather], cols

    dm_first, _ = match(lp.area_rng[0], np.arange(len(c_pairs)))

    # A detection's choice depends only on the GT it reaches (IoU >= the
    # lowest threshold): the best unmatched one, non-ignored before ignored,
    # ties to the later one.  Where every detection of a pair reaches only
    # GT of one ignore flag (in the first range and in range a), the
    # greedy choices are the same in both ranges, by induction over the
    # detections: only the other pairs are matched again.
    e_det = np.concatenate(e_det)
    e_gt = np.concatenate(e_gt)
    n_elig = np.bincount(e_det, minlength=n_c)
    q_of = np.repeat(np.arange(len(c_pairs)), c_nd)

    def mixed(flags):
        n_ign = np.bincount(e_det, flags[e_gt], minlength=n_c)
        return (n_ign > 0) & (n_ign < n_elig)

    mixed_first = mixed(g_flags[0])
    gt_base = gt_start[cand_pair] - 1
    for a in range(len(lp.area_rng)):
        dm = dm_first
        if a > 0:
            bad = mixed_first | mixed(g_flags[a])
            redo = np.unique(q_of[bad])
            if redo.size:
                dm = dm_first.copy()
                sub, cols = match(lp.area_rng[a], redo)
                dm[:, cols] = sub
        matched = dm > 0
        gt_index = np.where(matched, gt_base + dm, 0)
        real = matched & ~zero_id[gt_index]  # lvis-api: id 0 never a TP
        # lvis-api: ignored if matched to an ignored GT, or unmatched (or
        # matched to id 0) and out of range / not exhaustive
        ign = (matched & g_flags[a][gt_index]) | (~real &
                                                  unmatched_ign[a][cand])
        tp[a][:, cand] = real & ~ign
        fp[a][:, cand] = ~real & ~ign


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
