"""LVIS evaluation on faster-coco-eval's C++ matcher (``backend='fast'``).

:func:`run_fast_lvis_eval` has the interface and the outputs of
:func:`mmlt.evaluation.lvis_eval.run_lvis_eval` (lvis-api): the same summary
keys and an object that :func:`~mmlt.evaluation.lvis_eval.per_class_ap`
accepts.  Matching and accumulation run in faster-coco-eval
(``COCOeval_faster(lvis_style=True)``); mmlt only prepares the inputs so
that the library sees what lvis-api sees, and reads the summary from the
precision/recall arrays with lvis-api's rules:

* detections go through :func:`prepare_lvis_results`, the preparation of
  the lvis-api backend (top ``max_dets`` per image, lvis-api's areas and
  ids), so the per-image limit, tie order and area ranges are the same;
  faster-coco-eval's own limit is per (image, category) and never bites
  after that;
* lvis-api gives every GT ``iscrowd = 0`` in IoU and takes ``ignore`` from
  the annotation, faster-coco-eval takes ``ignore`` and crowd IoU from
  ``iscrowd``.  LVIS has neither field; GT with a true ``iscrowd`` or
  ``ignore`` is refused (:class:`FastLVISUnsupported`) rather than
  evaluated differently;
* detections of unverified categories (neither GT nor negative in their
  image) are dropped before the library sees them (lvis-api never evaluates
  them; faster-coco-eval 1.8 crashes on some of them in segm mode);
* class-agnostic evaluation (``use_cats=False``, proposal recall) is
  delegated to the lvis-api backend: faster-coco-eval's class-agnostic mode
  gathers an image's detections category by category, so detections with
  equal scores are ranked in another order than lvis-api's (result order)
  and AP differs when scores tie (equal with unique scores; checked);
* faster-coco-eval 1.8's ``evaluate`` walks all ``#images x #categories``
  pairs in Python and C++ (24M on LVIS v1 val); mmlt calls its C++
  matcher per group of categories on the images that concern them
  (:func:`_sparse_evaluator`), which gives the same per-category numbers
  with less time and memory.

Equality with lvis-api (every summary value and per-class AP) is tested in
``tests/test_evaluation/test_fast_lvis_eval.py``.
"""
import copy
import os
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from lvis import LVIS

from .lvis_eval import (AP_KEYS, FREQ_GROUPS, check_lvis_gt,
                        prepare_lvis_results, run_lvis_eval)

__all__ = [
    'FastLVISUnsupported', 'FastLVISEval', 'faster_coco_eval_available',
    'run_fast_lvis_eval'
]

AREA_LBL = ('all', 'small', 'medium', 'large')
INSTALL_HINT = ('faster-coco-eval is not installed: `pip install '
                'faster-coco-eval` (>= 1.8), or use backend=\'lvis\'.')


class FastLVISUnsupported(ValueError):
    """The input is one on which the fast backend would differ from
    lvis-api."""


def faster_coco_eval_available() -> bool:
    try:
        import faster_coco_eval  # noqa: F401
    except ImportError:
        return False
    return True


def _import_faster():
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return COCO, COCOeval_faster


class FastLVISEval:
    """Result of :func:`run_fast_lvis_eval`, shaped like lvis-api's.

    Attributes:
        params: ``cat_ids`` (sorted), ``img_ids``, ``area_rng_lbl``,
            ``iou_thrs``, ``rec_thrs``, ``max_dets``, ``iou_type``,
            ``use_cats``.
        eval (dict): ``precision`` ``[T, R, K, A]`` and ``recall``
            ``[T, K, A]`` (-1 where a category has no GT), as in lvis-api.
        results (dict): the summary.
        coco_eval: the faster-coco-eval object (its GT/DT indexes released).
    """

    def __init__(self, params, precision, recall, results, coco_eval):
        self.params = params
        self.eval = dict(precision=precision, recall=recall)
        self.results = results
        self.coco_eval = coco_eval

    def get_results(self) -> Dict[str, float]:
        return dict(self.results)


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _group_categories(cat_ids, images_of, slack=2000):
    """Groups of categories (fewest images first) such that the dense
    ``#images of the group x #categories`` block stays within twice the
    number of non-empty (image, category) pairs plus ``slack``."""
    groups, group, union, nonempty = [], [], set(), 0
    for c in sorted(cat_ids, key=lambda c: (len(images_of[c]), c)):
        imgs = images_of[c]
        new_union = union | imgs
        if group and (len(new_union) * (len(group) + 1) > 2 *
                      (nonempty + len(imgs)) + slack):
            groups.append((group, union))
            group, new_union, nonempty = [], set(imgs), 0
        group.append(c)
        union = new_union
        nonempty += len(imgs)
    if group:
        groups.append((group, union))
    return groups


def _sparse_evaluator(COCOeval_faster):
    """``COCOeval_faster`` whose ``evaluate`` never walks all
    ``#images x #categories`` pairs in Python or C++.

    faster-coco-eval 1.8 builds a dict over every (image, category) pair
    (24M on LVIS v1 val: seconds per million pairs and GBs) and its C++
    matcher then walks them all.  A category's precision and recall depend
    only on the images that hold its GT or (kept) detections, in image-id
    order, so here the library's C++ ``COCOevalEvaluateAccumulate`` is
    called per group of categories (:func:`_group_categories`) on those
    images only, with one shared empty list for the empty pairs, and the
    per-category results are put back in ``params.catIds`` order.  IoUs
    come from the library's ``computeIoU`` for the non-empty pairs; the
    matching and accumulation code is the library's, so the numbers are
    unchanged.
    """
    import faster_coco_eval.faster_eval_api_cpp as _C

    class SparseLVISEvalFaster(COCOeval_faster):

        def _compute_ious(self, pairs):
            p = self.params
            workers = min(os.cpu_count() or 1, self.rle_iou_max_workers)
            if p.compute_rle and workers > 1 and len(pairs) > 1:
                # mask IoU runs in C++; threads as in faster-coco-eval
                with ThreadPoolExecutor(workers) as pool:
                    return list(
                        pool.map(lambda pr: self.computeIoU(*pr),
                                 pairs,
                                 chunksize=64))
            return [self.computeIoU(*pr) for pr in pairs]

        def _prepare(self):
            """The library's ``_prepare`` (LVIS style), except that
            detections whose segmentation is already a compressed RLE of
            their image's size take it as their ``rle`` as it is.

            The library runs every detection through one serial C++ pass
            that decodes the RLE string and encodes it again (the bytes come
            out the same); at 300 masks per image that pass is about half
            of a segm evaluation.  Everything else (GT, polygons,
            uncompressed RLE) still goes through the library's converter.
            """
            p = self.params
            if (not p.compute_rle or p.compute_boundary or not p.useCats
                    or not self.lvis_style):
                return super()._prepare()
            from faster_coco_eval.core import mask as mask_utils
            self.gt_dataset.clean()
            self.dt_dataset.clean()
            cat_ids = p.catIds if p.catIds else None
            gts = self.cocoGt.loadAnns(
                self.cocoGt.getAnnIds(imgIds=p.imgIds, catIds=cat_ids))
            dts = self.cocoDt.loadAnns(
                self.cocoDt.getAnnIds(imgIds=p.imgIds, catIds=cat_ids))
            imgs = self.cocoGt.load_imgs(ids=p.imgIds)
            neg = {d['id']: set(d.get('neg_category_ids', [])) for d in imgs}
            self.img_nel = {
                d['id']: d.get('not_exhaustive_category_ids', [])
                for d in imgs
            }
            self.freq_groups = self._prepare_freq_group()
            sizes = {}
            for ann in gts:
                ann['ignore'] = int(ann.get('iscrowd', 0))
                sizes.setdefault(ann['image_id'], self._hw(ann, self.cocoGt))
            mask_utils.calculateRleForAllAnnotations(
                gts, sizes, True, False, self.boundary_dilation_ratio,
                self.boundary_cpu_count)
            present = {}
            for ann in gts:
                present.setdefault(ann['image_id'], set()).add(
                    ann['category_id'])
                self.gt_dataset.append_ref(ann['image_id'],
                                           ann['category_id'], ann)
            gt_pairs = {(a['image_id'], a['category_id']) for a in gts}

            kept, convert = [], []
            for ann in dts:
                img, cat = ann['image_id'], ann['category_id']
                if cat not in neg.get(img, ()) and cat not in present.get(
                        img, ()):
                    ann['drop'] = True  # unverified: never scored
                    continue
                ann['lvis_mark'] = cat in self.img_nel[img]
                kept.append(ann)
                hw = self._hw(ann, self.cocoDt)
                sizes.setdefault(img, hw)
                seg = ann.get('segmentation')
                if (isinstance(seg, dict)
                        and isinstance(seg.get('counts'), (str, bytes))
                        and list(seg.get('size', ())) == list(hw)):
                    counts = seg['counts']
                    ann['rle'] = dict(
                        size=list(hw),
                        counts=counts.encode()
                        if isinstance(counts, str) else counts)
                else:
                    convert.append(ann)
            mask_utils.calculateRleForAllAnnotations(
                convert, sizes, True, False, self.boundary_dilation_ratio,
                self.boundary_cpu_count)
            for ann in kept:
                self.dt_dataset.append_ref(ann['image_id'],
                                           ann['category_id'], ann)
            self._nonempty_iou_pairs = gt_pairs & {
                (a['image_id'], a['category_id']) for a in kept
            }

        @staticmethod
        def _hw(ann, coco):
            img = coco.imgs[ann['image_id']]
            return img['height'], img['width']

        def evaluate(self):
            p = self.params
            p.imgIds = [int(i) for i in np.unique(p.imgIds)]
            p.catIds = [int(c) for c in np.unique(p.catIds)]
            p.maxDets = sorted(p.maxDets)
            self._prepare()
            pairs = sorted(self._nonempty_iou_pairs)
            iou_of = dict(zip(pairs, self._compute_ious(pairs)))

            evaluated = set(p.imgIds)
            images_of = {c: set() for c in p.catIds}
            for index in (self.cocoGt.anns, self.cocoDt.anns):
                for ann in index.values():
                    if (ann['image_id'] in evaluated
                            and ann['category_id'] in images_of
                            and not ann.get('drop', False)):
                        images_of[ann['category_id']].add(ann['image_id'])

            T, R = len(p.iouThrs), len(p.recThrs)
            K, A, M = len(p.catIds), len(p.areaRng), len(p.maxDets)
            precision = -np.ones((T, R, K, A, M))
            recall = -np.ones((T, K, A, M))
            cat_pos = {c: k for k, c in enumerate(p.catIds)}
            empty = []
            active = [c for c in p.catIds if images_of[c]]
            for cats, imgs in _group_categories(active, images_of):
                cats, imgs = sorted(cats), sorted(imgs)
                ious = [[iou_of.get((i, c), empty) for c in cats]
                        for i in imgs]
                sub = copy.copy(p)
                sub.imgIds, sub.catIds = imgs, cats
                res = _C.COCOevalEvaluateAccumulate(sub, ious, self.gt_dataset,
                                                    self.dt_dataset, imgs,
                                                    cats, True)
                ks = [cat_pos[c] for c in cats]
                precision[:, :, ks] = np.asarray(res['precision'])
                recall[:, ks] = np.asarray(res['recall'])
            self.ious = {}
            self._paramsEval = copy.deepcopy(p)
            self.eval = dict(counts=[T, R, K, A, M],
                             precision=precision,
                             recall=recall)

    return SparseLVISEvalFaster


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


def _check_supported(lvis_gt: LVIS) -> None:
    for ann in lvis_gt.anns.values():
        if ann.get('iscrowd') or ann.get('ignore'):
            raise FastLVISUnsupported(
                'GT annotation {} has iscrowd/ignore set: lvis-api ignores '
                'iscrowd and faster-coco-eval does not, so the fast backend '
                "would differ from lvis-api. Use backend='lvis'.".format(
                    ann.get('id')))


def _verified_filter(lvis_gt: LVIS):
    """Predicate that keeps detections of categories in their image's GT or
    ``neg_category_ids``; lvis-api never evaluates the others.

    faster-coco-eval drops them too, but still converts their masks, and
    in segm mode fails (``unordered_map::at``) on an image whose every
    detection is dropped and that has no GT.  Dropping them first gives the
    same numbers and avoids both.
    """
    verified = {
        img_id: set(img['neg_category_ids'])
        for img_id, img in lvis_gt.imgs.items()
    }
    for ann in lvis_gt.anns.values():
        verified[ann['image_id']].add(ann['category_id'])

    def keep(ann):
        cats = verified.get(ann['image_id'])
        # unknown images are kept, so that prepare_lvis_results reports them
        return cats is None or ann['category_id'] in cats

    return keep


def run_fast_lvis_eval(
        gt: Union[str, LVIS],
        results: Union[List[dict], str],
        iou_type: str = 'bbox',
        max_dets: int = 300,
        img_ids: Optional[Sequence[int]] = None,
        use_cats: bool = True,
        check_gt: bool = True) -> Tuple[Dict[str, float], FastLVISEval]:
    """:func:`~mmlt.evaluation.lvis_eval.run_lvis_eval` on faster-coco-eval.

    Same arguments and outputs (summary dict with the keys of
    :func:`~mmlt.evaluation.lvis_eval.summary_keys`, -1 where there is no
    GT; an object for :func:`~mmlt.evaluation.lvis_eval.per_class_ap`).

    Raises:
        ImportError: faster-coco-eval is not installed.
        FastLVISUnsupported: GT with ``iscrowd``/``ignore`` set.
    """
    COCO, COCOeval_faster = _import_faster()
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type}")
    if not use_cats:
        return run_lvis_eval(gt, results, iou_type, max_dets, img_ids,
                             use_cats, check_gt)
    source = gt if isinstance(gt, str) else None
    lvis_gt = gt if isinstance(gt, LVIS) else LVIS(gt)
    if check_gt:
        check_lvis_gt(lvis_gt, source)
    _check_supported(lvis_gt)

    # box polygons are only needed where masks are compared
    anns = prepare_lvis_results(lvis_gt,
                                results,
                                max_dets,
                                box_polygons=iou_type == 'segm',
                                keep=_verified_filter(lvis_gt))
    silent = dict(print_function=lambda *a, **k: None)
    # The GT dicts are shared, not copied (memory); faster-coco-eval adds
    # 'ignore' (0, as lvis-api does) and, for segm, 'rle' to them: 'rle' is
    # removed again below.
    coco_gt = COCO(lvis_gt.dataset, **silent)
    coco_dt = COCO(
        dict(images=lvis_gt.dataset['images'],
             categories=lvis_gt.dataset['categories'],
             annotations=anns), **silent)
    del anns
    ev = _sparse_evaluator(COCOeval_faster)(
        coco_gt,
        coco_dt,
        iou_type,
        lvis_style=True,
        print_function=lambda *a, **k: None)
    p = ev.params
    p.maxDets = [max_dets if max_dets >= 0 else np.iinfo(np.int32).max]
    if img_ids is not None:
        p.imgIds = sorted(int(i) for i in img_ids)
    try:
        ev.evaluate()
        ev.accumulate()
    finally:
        if iou_type == 'segm':
            for ann in lvis_gt.anns.values():
                ann.pop('rle', None)

    # [T, R, K, A, M] -> [T, R, K, A]; one max-dets value
    precision = np.asarray(ev.eval['precision'])[..., -1]
    recall = np.asarray(ev.eval['recall'])[..., -1]
    if tuple(p.areaRngLbl) != AREA_LBL:
        raise RuntimeError(f'unexpected area ranges {p.areaRngLbl}')
    cat_ids = [int(c) for c in p.catIds]
    params = SimpleNamespace(cat_ids=cat_ids,
                             img_ids=[int(i) for i in p.imgIds],
                             area_rng_lbl=list(AREA_LBL),
                             area_rng=[list(r) for r in p.areaRng],
                             iou_thrs=np.asarray(p.iouThrs),
                             rec_thrs=np.asarray(p.recThrs),
                             max_dets=max_dets,
                             iou_type=iou_type,
                             use_cats=1)
    freq_groups = [[] for _ in FREQ_GROUPS]
    for k, c in enumerate(cat_ids):
        freq_groups[FREQ_GROUPS.index(lvis_gt.cats[c]['frequency'])].append(k)
    stats = _summarize(precision, recall, params, freq_groups)
    # drop the indexes (they pin every detection dict)
    ev.cocoGt = ev.cocoDt = None
    ev.gt_dataset = ev.dt_dataset = None
    ev.ious = {}
    return stats, FastLVISEval(params, precision, recall, stats, ev)
