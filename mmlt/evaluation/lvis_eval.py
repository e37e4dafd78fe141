"""LVIS evaluation that runs on numpy >= 1.24, built on lvis-api.

PyPI ``lvis`` 0.5.3 calls ``np.float`` in ``LVISEval.accumulate`` and so
crashes on numpy >= 1.24.  :class:`LVISEvalNP` keeps lvis-api's matching
(``evaluate_img``/``compute_iou``/``_summarize`` are inherited untouched) and
replaces the parts that are broken or needlessly slow:

* ``accumulate``: mmlt's own vectorised version of the same algorithm; its
  numbers equal lvis-api's bit for bit.
* ``evaluate``: evaluates only (image, category) pairs that hold a GT or a
  detection.  lvis-api walks all ``#images x #categories x 4`` pairs (about
  10^8 on LVIS v1 val) only to return ``None`` for the empty ones;
  ``accumulate`` drops those anyway, so the results are the same.
* results loading (:class:`LVISResultsNP`): accepts an empty detection list
  (lvis-api raises ``IndexError``), does not deep-copy the GT dataset and
  does not modify the caller's detection dicts.
* ``use_cats = 0`` (class-agnostic, used for proposal recall) works; in
  lvis-api it silently evaluates nothing.

The rest of lvis-api (``evaluate_img``, ``compute_iou``, ``_summarize``,
``LVIS``) was checked on numpy 2 and is used as is.
"""
import datetime
import json
import logging
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pycocotools.mask as mask_utils
from lvis import LVIS, LVISEval, LVISResults

from .validate import CheckedResults, validate_results

__all__ = [
    'LVISEvalNP', 'LVISResultsNP', 'LVISAnnotationError', 'check_lvis_gt',
    'check_lvis_results', 'per_class_ap', 'prepare_lvis_results',
    'run_lvis_eval', 'summary_keys'
]

AP_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')
FREQ_GROUPS = ('r', 'c', 'f')


def summary_keys(max_dets: int = 300) -> Tuple[str, ...]:
    """Names of lvis-api's summary values, in lvis-api's order."""
    return AP_KEYS + tuple(f'AR{a}@{max_dets}' for a in ('', 's', 'm', 'l'))


class LVISAnnotationError(ValueError):
    """The GT json lacks a field that LVIS evaluation needs."""


def check_lvis_gt(lvis_gt: LVIS, source: Optional[str] = None) -> None:
    """Raise :class:`LVISAnnotationError` if ``lvis_gt`` cannot be evaluated.

    lvis-api needs ``neg_category_ids`` and ``not_exhaustive_category_ids``
    on every image (federated evaluation) and ``frequency`` ('r'/'c'/'f') on
    every category (APr/APc/APf).
    """
    src = source or 'the GT annotation json'
    fix = ('Evaluate against the original LVIS annotation json (e.g. '
           'lvis_v1_val.json): mmdet\'s LVIS datasets drop these fields, so '
           'a GT json rebuilt from a dataset cannot be used.')
    imgs = list(lvis_gt.imgs.values())
    for field in ('neg_category_ids', 'not_exhaustive_category_ids'):
        missing = [img.get('id') for img in imgs if field not in img]
        if missing:
            raise LVISAnnotationError(
                f'LVIS evaluation needs `{field}` on every image, but '
                f'{len(missing)} of {len(imgs)} images in {src} lack it '
                f'(e.g. image id {missing[0]}). {fix}')
    bad = [
        cat.get('id') for cat in lvis_gt.cats.values()
        if cat.get('frequency') not in FREQ_GROUPS
    ]
    if bad:
        raise LVISAnnotationError(
            f'LVIS evaluation needs `frequency` (one of r/c/f) on every '
            f'category, but {len(bad)} of {len(lvis_gt.cats)} categories in '
            f'{src} lack it or have another value (e.g. category id '
            f'{bad[0]}). {fix}')


def _limit_dets_per_image(anns: List[dict], max_dets: int) -> List[dict]:
    # Same order as lvis-api (grouped by image in order of first appearance,
    # over-full images sorted by score with a stable sort): tie-breaking
    # between equal scores later depends on this order.
    by_img = defaultdict(list)
    for ann in anns:
        by_img[ann['image_id']].append(ann)
    out = []
    for img_anns in by_img.values():
        if len(img_anns) > max_dets:
            img_anns = sorted(
                img_anns, key=lambda a: a['score'], reverse=True)[:max_dets]
        out.extend(img_anns)
    return out


def check_lvis_results(lvis_gt: LVIS,
                       anns: List[dict],
                       invalid_detections: str = 'error',
                       source: str = 'LVIS results',
                       option: str = "invalid_detections='drop'"
                       ) -> List[dict]:
    """:func:`mmlt.evaluation.validate.validate_results` against
    ``lvis_gt``: finite scores and boxes, boxes with ``w, h >= 0``, image
    and category ids of the GT, RLE masks of their image's size.  Returns
    ``anns`` or, with ``invalid_detections='drop'``, the valid ones."""
    sizes = {
        img_id: (img.get('height'), img.get('width'))
        for img_id, img in lvis_gt.imgs.items()
        if 'height' in img and 'width' in img
    }
    return validate_results(
        anns,
        invalid_detections,
        source,
        option,
        img_ids=lvis_gt.imgs,
        cat_ids=lvis_gt.cats,
        img_sizes=sizes)


def load_checked_results(lvis_gt, results,
                         invalid_detections: str = 'error') -> List[dict]:
    """LVIS-format detections (a list, or a json file's path) after
    :func:`check_lvis_results`; a file's list is new, a given list is
    returned as is when valid (a :class:`CheckedResults` is not checked
    again)."""
    source = f'LVIS results {results}' if isinstance(results, str) \
        else 'LVIS results'
    if isinstance(results, str):
        with open(results) as f:
            results = json.load(f)
    if not isinstance(results, list):
        raise TypeError(f'{source} must be a list of dicts.')
    if isinstance(results, CheckedResults):
        return results
    return check_lvis_results(lvis_gt, results, invalid_detections, source)


def prepare_lvis_results(lvis_gt,
                         results: Union[List[dict], str],
                         max_dets: int = 300,
                         box_polygons: bool = True,
                         keep=None,
                         invalid_detections: str = 'error') -> List[dict]:
    """Detections as lvis-api's ``LVISResults`` prepares them.

    Checks the detections first (:func:`check_lvis_results`: by default an
    :class:`~mmlt.evaluation.validate.InvalidDetectionsError` on NaN/inf
    scores or boxes, negative widths/heights, unknown image or category
    ids, masks of the wrong size; ``invalid_detections='drop'`` drops them
    with a logged count; a :class:`~mmlt.evaluation.validate.CheckedResults`
    list is not checked again).  Copies the dicts (the caller's are not
    modified), keeps the top ``max_dets`` per image (negative: all) in
    lvis-api's order and sets ``id`` and ``area`` (and, with
    ``box_polygons``, a box polygon as ``segmentation`` of box-only
    detections) exactly as lvis-api does.  Shared by both backends so that
    they see the same detections.  ``keep`` (optional predicate) drops
    detections after the per-image limit (before copying).
    """
    copied = isinstance(results, str)
    # checked before the per-image limit: a NaN score must not take a top
    # slot
    anns = load_checked_results(lvis_gt, results, invalid_detections)
    if max_dets >= 0:
        anns = _limit_dets_per_image(anns, max_dets)
    if keep is not None:
        anns = [ann for ann in anns if keep(ann)]
    if not copied:
        # copies: ids and areas are written into them below
        anns = [dict(ann) for ann in anns]

    # lvis-api picks the branch from the first detection: segm results
    # that also carry 'bbox' (mmdet's do) get the box area, not the mask
    # area.  Kept so that numbers match lvis-api.
    if anns and 'bbox' in anns[0]:
        for i, ann in enumerate(anns):
            x1, y1, w, h = ann['bbox']
            if box_polygons and 'segmentation' not in ann:
                x2, y2 = x1 + w, y1 + h
                ann['segmentation'] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
            ann['area'] = w * h
            ann['id'] = i + 1
    elif anns:
        for i, ann in enumerate(anns):
            ann['area'] = mask_utils.area(ann['segmentation'])
            if 'bbox' not in ann:
                ann['bbox'] = mask_utils.toBbox(ann['segmentation'])
            ann['id'] = i + 1
    return anns


class LVISResultsNP(LVISResults):
    """Detections in LVIS format, as :class:`lvis.LVISResults` loads them.

    Args:
        lvis_gt (LVIS | str): GT api or path of the GT json.
        results (list[dict] | str): detections (``image_id``,
            ``category_id``, ``score``, ``bbox`` xywh and/or
            ``segmentation`` RLE) or a json file of them.  May be empty.
        max_dets (int): keep at most this many top-scoring detections per
            image; negative keeps all.  Defaults to 300 (LVIS official).
        invalid_detections (str): 'error' (default) or 'drop', see
            :func:`prepare_lvis_results`.
    """

    def __init__(self,
                 lvis_gt: Union[LVIS, str],
                 results: Union[List[dict], str],
                 max_dets: int = 300,
                 invalid_detections: str = 'error') -> None:
        if isinstance(lvis_gt, str):
            lvis_gt = LVIS(lvis_gt)
        if not isinstance(lvis_gt, LVIS):
            raise TypeError(f'Unsupported type {type(lvis_gt)} of lvis_gt.')
        self.logger = logging.getLogger(__name__)
        anns = prepare_lvis_results(
            lvis_gt,
            results,
            max_dets,
            invalid_detections=invalid_detections)
        # Images and categories are shared with the GT, not deep-copied as in
        # lvis-api (seconds and GBs on LVIS): evaluation only reads them.
        self.dataset = dict(
            images=lvis_gt.dataset['images'],
            categories=lvis_gt.dataset['categories'],
            annotations=anns)
        self._create_index()


class LVISEvalNP(LVISEval):
    """:class:`lvis.LVISEval` that works on numpy 2 (see module doc).

    Args:
        lvis_gt (LVIS | str): GT api or path of the GT json.
        lvis_dt (LVISResults | list[dict] | str): detections.
        iou_type (str): 'bbox' or 'segm'.
        max_dets (int): max detections per image, used when ``lvis_dt`` is
            not an ``LVISResults`` yet, and in the AR key names.
        invalid_detections (str): 'error' (default) or 'drop', see
            :func:`prepare_lvis_results`.
    """

    #: evaluations with at least this many (image, category) pairs show a
    #: tqdm bar over categories
    progress_min_pairs = 20000

    def __init__(self,
                 lvis_gt: Union[LVIS, str],
                 lvis_dt: Union[LVISResults, List[dict], str],
                 iou_type: str = 'segm',
                 max_dets: int = 300,
                 invalid_detections: str = 'error') -> None:
        if isinstance(lvis_gt, str):
            lvis_gt = LVIS(lvis_gt)
        if not isinstance(lvis_dt, LVISResults):
            lvis_dt = LVISResultsNP(
                lvis_gt,
                lvis_dt,
                max_dets=max_dets,
                invalid_detections=invalid_detections)
        super().__init__(lvis_gt, lvis_dt, iou_type)
        self.params.max_dets = max_dets

    def _prepare(self) -> None:
        if self.params.use_cats:
            super()._prepare()
            return
        # Class-agnostic: every GT is a target and every detection a
        # candidate; the federated neg/not-exhaustive lists are per category
        # and do not apply.
        p = self.params
        cat_ids = p.cat_ids or None
        gts = self.lvis_gt.load_anns(
            self.lvis_gt.get_ann_ids(img_ids=p.img_ids, cat_ids=cat_ids))
        dts = self.lvis_dt.load_anns(
            self.lvis_dt.get_ann_ids(img_ids=p.img_ids, cat_ids=cat_ids))
        if p.iou_type == 'segm':
            self._to_mask(gts, self.lvis_gt)
            self._to_mask(dts, self.lvis_dt)
        for gt in gts:
            gt.setdefault('ignore', 0)
            self._gts[gt['image_id'], -1].append(gt)
        for dt in dts:
            self._dts[dt['image_id'], -1].append(dt)
        self.img_nel = {img_id: [] for img_id in p.img_ids}
        # no per-category precision, hence no frequency groups
        self.freq_groups = [[] for _ in p.img_count_lbl]

    def _get_gt_dt(self, img_id, cat_id):
        # _prepare keys class-agnostic data by cat_id -1; lvis-api's
        # use_cats=0 branch looks them up wrongly.
        return self._gts[img_id, cat_id], self._dts[img_id, cat_id]

    def evaluate(self) -> None:
        """Per image evaluation of the non-empty (image, category) pairs.

        ``self.eval_imgs`` holds lvis-api's per-image dicts in lvis-api's
        order (category, area range, image) without the ``None`` entries.
        """
        p = self.params
        p.img_ids = [int(i) for i in np.unique(p.img_ids)]
        cat_ids = p.cat_ids if p.use_cats else [-1]
        self._prepare()

        img_pos = {img_id: i for i, img_id in enumerate(p.img_ids)}
        cat_pos = {cat_id: i for i, cat_id in enumerate(cat_ids)}
        pairs = {
            key
            for index in (self._gts, self._dts) for key, anns in index.items()
            if anns and key[0] in img_pos and key[1] in cat_pos
        }
        pairs = sorted(pairs, key=lambda k: (cat_pos[k[1]], img_pos[k[0]]))
        imgs_of_cat = defaultdict(list)
        for img_id, cat_id in pairs:
            imgs_of_cat[cat_id].append(img_id)

        # a bar only where matching takes long (LVIS-scale result sets)
        cats = [c for c in cat_ids if c in imgs_of_cat]
        if len(pairs) >= self.progress_min_pairs:
            from tqdm import tqdm
            cats = tqdm(cats, desc=f'LVIS {self.params.iou_type} matching',
                        unit='cat', leave=False)
        self.ious, self.eval_imgs = {}, []
        for cat_id in cats:
            for img_id in imgs_of_cat[cat_id]:
                self.ious[img_id, cat_id] = self.compute_iou(img_id, cat_id)
            self.eval_imgs.extend(
                self.evaluate_img(img_id, cat_id, area_rng)
                for area_rng in p.area_rng for img_id in imgs_of_cat[cat_id])

    def accumulate(self) -> None:
        """Precision/recall per IoU threshold, category and area range.

        Same algorithm and numbers as lvis-api: per (category, area range)
        the detections of all images are sorted by score (stable), cumulative
        TP/FP counts skip ignored detections, precision is made monotone
        from the right and read at the 101 recall thresholds (0 beyond the
        highest recall reached).  Max dets is applied per image when the
        results are loaded.  -1 marks (category, area) cells without GT.
        Accepts lvis-api's dense ``eval_imgs`` (with ``None``) as well.
        """
        p = self.params
        cat_ids = p.cat_ids if p.use_cats else [-1]
        num_thrs, num_recs = len(p.iou_thrs), len(p.rec_thrs)
        num_cats, num_areas = len(cat_ids), len(p.area_rng)
        precision = -np.ones((num_thrs, num_recs, num_cats, num_areas))
        recall = -np.ones((num_thrs, num_cats, num_areas))
        dt_pointers = {
            k: {a: {}
                for a in range(num_areas)}
            for k in range(num_cats)
        }

        cat_pos = {cat_id: i for i, cat_id in enumerate(cat_ids)}
        area_pos = {tuple(rng): i for i, rng in enumerate(p.area_rng)}
        per_cell = defaultdict(list)
        for e in self.eval_imgs:
            if e is not None:
                key = (cat_pos[e['category_id']], area_pos[tuple(
                    e['area_rng'])])
                per_cell[key].append(e)

        for (k, a), cell in per_cell.items():
            scores = np.concatenate(
                [np.asarray(e['dt_scores'], dtype=np.float64) for e in cell])
            order = np.argsort(-scores, kind='mergesort')
            dt_m = np.concatenate([e['dt_matches'] for e in cell],
                                  axis=1)[:, order]
            dt_ig = np.concatenate([e['dt_ignore'] for e in cell],
                                   axis=1)[:, order]
            gt_ig = np.concatenate([e['gt_ignore'] for e in cell])
            num_gt = np.count_nonzero(gt_ig == 0)
            if num_gt == 0:
                continue

            tps = np.logical_and(dt_m, np.logical_not(dt_ig))
            fps = np.logical_and(np.logical_not(dt_m), np.logical_not(dt_ig))
            dt_ids = np.concatenate(
                [np.asarray(e['dt_ids'], dtype=np.int64) for e in cell])
            dt_pointers[k][a] = dict(dt_ids=dt_ids[order], tps=tps, fps=fps)

            tp_sum = np.cumsum(tps, axis=1, dtype=np.float64)
            fp_sum = np.cumsum(fps, axis=1, dtype=np.float64)
            num_dt = tp_sum.shape[1]
            rc = tp_sum / num_gt
            # same operation order as lvis-api, so floats match exactly
            pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
            recall[:, k, a] = rc[:, -1] if num_dt else 0
            # running max from the right: precision envelope
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
            for t in range(num_thrs):
                idx = np.searchsorted(rc[t], p.rec_thrs, side='left')
                reached = idx < num_dt
                pr_at_rec = np.zeros(num_recs)
                pr_at_rec[reached] = pr[t, idx[reached]]
                precision[t, :, k, a] = pr_at_rec

        self.eval = {
            'params': p,
            'counts': [num_thrs, num_recs, num_cats, num_areas],
            'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S'),
            'precision': precision,
            'recall': recall,
            'dt_pointers': dt_pointers,
        }


def per_class_ap(lvis_eval: LVISEval,
                 area_rng: str = 'all') -> Dict[int, float]:
    """AP of every category of an accumulated evaluation.

    The mean of the valid precision values over IoU thresholds and recall
    thresholds for ``area_rng`` (max dets is the evaluation's).  Categories
    without GT in the evaluated images get ``nan`` (lvis-api marks them -1
    and leaves them out of every mean).

    Returns:
        dict: category id -> AP in [0, 1] or nan, in ``params.cat_ids``
        (sorted) order.
    """
    if not lvis_eval.eval:
        raise RuntimeError('Run evaluate() and accumulate() first.')
    precision = lvis_eval.eval['precision']
    a = lvis_eval.params.area_rng_lbl.index(area_rng)
    out = {}
    for k, cat_id in enumerate(lvis_eval.params.cat_ids):
        valid = precision[:, :, k, a]
        valid = valid[valid > -1]
        out[cat_id] = float(valid.mean()) if valid.size else math.nan
    return out


def run_lvis_eval(
        gt: Union[str, LVIS],
        results: Union[List[dict], str],
        iou_type: str = 'bbox',
        max_dets: int = 300,
        img_ids: Optional[Sequence[int]] = None,
        use_cats: bool = True,
        check_gt: bool = True,
        invalid_detections: str = 'error'
) -> Tuple[Dict[str, float], LVISEvalNP]:
    """Run LVIS evaluation and return its summary.

    Args:
        gt (str | LVIS): GT json path or api.
        results (list[dict] | str): detections or a json file of them; an
            empty list gives AP/AR 0 for every category with GT.
        iou_type (str): 'bbox' or 'segm'.
        max_dets (int): max detections per image. Defaults to 300.
        img_ids (Sequence[int], optional): evaluate only these images.
            Defaults to all GT images (official protocol).
        use_cats (bool): False for class-agnostic evaluation (proposal
            recall; APr/APc/APf are then -1).
        check_gt (bool): run :func:`check_lvis_gt` first.
        invalid_detections (str): 'error' (default: an
            ``InvalidDetectionsError`` on NaN/inf, negative-extent or
            unknown-id detections) or 'drop' (evaluate the valid ones, log
            the count); see :func:`prepare_lvis_results`.

    Returns:
        tuple[dict, LVISEvalNP]: summary (keys of :func:`summary_keys`,
        floats in [0, 1], -1 where there is no GT, e.g. APs without small
        objects) and the evaluated object (for :func:`per_class_ap`).
    """
    source = gt if isinstance(gt, str) else None
    lvis_gt = gt if isinstance(gt, LVIS) else LVIS(gt)
    if check_gt:
        check_lvis_gt(lvis_gt, source)
    lvis_eval = LVISEvalNP(
        lvis_gt,
        results,
        iou_type,
        max_dets=max_dets,
        invalid_detections=invalid_detections)
    if img_ids is not None:
        lvis_eval.params.img_ids = sorted(int(i) for i in img_ids)
    lvis_eval.params.use_cats = int(use_cats)
    lvis_eval.run()
    stats = {k: float(v) for k, v in lvis_eval.get_results().items()}
    return stats, lvis_eval
