"""The fast LVIS backend equals the original lvis-api on random inputs that
mix the cases where a matcher can deviate from lvis-api's preparation:

GT and detections of area 0 (zero-width/height boxes, boxes beyond the
image border clamped by the detector), negative or NaN GT areas, areas on
and next to the area-range borders 32^2 and 96^2, tiny areas, GT
``ignore`` and ``iscrowd`` (lvis-api matches crowds as ordinary GT), GT ids
0, negative, float and duplicated, detections on unverified, negative,
not-exhaustive and GT-less categories, images without GT, score ties
within and across images, ``max_dets`` -1 (no limit), 0, small and 300,
image subsets, box-only / RLE-only / polygon detections in segm.

The reference is the unmodified lvis-api (``LVISResults`` + ``LVISEval``,
``np.float`` patched in for numpy 2) where it runs (it fails on an empty
result list), else mmlt's lvis-api wrapper.  Every summary value and every
per-class AP must agree to 1e-9.
"""
import copy
import json
import math
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis import LVIS, LVISEval, LVISResults

from mmlt.evaluation.lvis_eval import per_class_ap, run_lvis_eval

pytest.importorskip('faster_coco_eval')
from mmlt.evaluation.fast_lvis_eval import run_fast_lvis_eval  # noqa: E402

TOL = 1e-9
W, H = 200, 150
CATS = [
    dict(id=i, name=f'c{i}', frequency=f)
    for i, f in zip(range(1, 11), 'rrccffrcfc')
]
BORDER_AREAS = [32**2, 96**2]


def _octagon(x, y, w, h):
    cx, cy = w * 0.25, h * 0.25
    return [
        x + cx, y, x + w - cx, y, x + w, y + cy, x + w, y + h - cy,
        x + w - cx, y + h, x + cx, y + h, x, y + h - cy, x, y + cy
    ]


def _border_box(rng):
    """A box whose area is on or next to 32^2 / 96^2, or tiny."""
    target = float(rng.choice(BORDER_AREAS))
    target += float(rng.choice([0.0, 0.0, -1e-3, 1e-3, -0.5, 0.5]))
    if rng.random() < 0.15:
        target = float(rng.choice([1e-6, 0.01, 1.0]))
    w = float(rng.choice([math.sqrt(target), target / 16.0, 16.0]))
    w = min(w, W - 1.0)
    h = target / w
    return [float(rng.uniform(0, W - w)), float(rng.uniform(0, max(
        H - h, 0.0))), w, h]


def _random_box(rng):
    w, h = rng.uniform(2, 120), rng.uniform(2, 100)
    return [
        float(rng.uniform(0, W - w)),
        float(rng.uniform(0, H - h)),
        float(w),
        float(h)
    ]


def make_gt(seed, num_imgs=8):
    rng = np.random.default_rng(seed)
    images, anns = [], []
    next_id = 1
    for img_id in range(1, num_imgs + 1):
        present = set()
        n = 0 if img_id == num_imgs else int(rng.integers(1, 7))
        for _ in range(n):
            cat = int(rng.integers(1, 9))  # 9 and 10 never have GT
            kind = rng.random()
            box = _border_box(rng) if kind < 0.3 else _random_box(rng)
            poly = _octagon(*box)
            area = box[2] * box[3]
            ann = dict(id=next_id,
                       image_id=img_id,
                       category_id=cat,
                       bbox=box,
                       area=area,
                       segmentation=[poly])
            next_id += 1
            r = rng.random()
            if r < 0.06:
                ann['area'] = 0.0  # lvis-api leaves it out
            elif r < 0.09:
                ann['area'] = -area
            elif r < 0.11:
                ann['area'] = float('nan')
            if rng.random() < 0.08:
                ann['ignore'] = 1
            if rng.random() < 0.1:
                ann['iscrowd'] = 1
            anns.append(ann)
            present.add(cat)
        absent = [c['id'] for c in CATS if c['id'] not in present]
        neg = sorted(int(c) for c in absent if rng.random() < 0.4)
        not_exh = sorted(c for c in present if rng.random() < 0.25)
        images.append(
            dict(id=img_id,
                 height=H,
                 width=W,
                 neg_category_ids=neg,
                 not_exhaustive_category_ids=not_exh))
    # at least one zero-width GT box (area 0)
    z = anns[int(rng.integers(len(anns)))]
    z['bbox'][2] = 0.0
    z['area'] = 0.0
    z['segmentation'] = [_octagon(*z['bbox'])]
    # odd ids that lvis-api accepts: 0, negative, float, a duplicate
    # within an image
    odd = rng.permutation(len(anns))[:4]
    for j, new_id in zip(odd, [0, -7, 1000.0]):
        anns[j]['id'] = new_id
    if len(anns) > 3 and anns[-1]['image_id'] == anns[-2]['image_id']:
        anns[-1]['id'] = anns[-2]['id']
    return dict(images=images, annotations=anns,
                categories=copy.deepcopy(CATS))


def make_dets(gt, seed, segm_format='rle'):
    """Detections: jittered GT boxes, random and border-area boxes, boxes
    clamped at the image border to zero width or height, boxes outside the
    image; scores with one decimal (ties)."""
    rng = np.random.default_rng(seed + 500)
    by_img = {}
    for a in gt['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    dets = []
    for img in gt['images']:
        src_anns = by_img.get(img['id'], [])
        for _ in range(int(rng.integers(3, 25))):
            r = rng.random()
            if src_anns and r < 0.45:
                a = src_anns[int(rng.integers(len(src_anns)))]
                x, y, w, h = a['bbox']
                j = rng.normal(0, 0.08, 4) * [w, h, w, h]
                box = [x + j[0], y + j[1], max(w + j[2], 0.5),
                       max(h + j[3], 0.5)]
                cat = a['category_id'] if rng.random() < 0.8 else int(
                    rng.integers(1, 11))
            elif r < 0.6:
                box, cat = _border_box(rng), int(rng.integers(1, 11))
            elif r < 0.75:
                # beyond the border, clamped by the detector: zero extent
                x, y, w, h = _random_box(rng)
                box = ([float(W), y, 0.0, h] if rng.random() < 0.5 else
                       [x, float(H), w, 0.0])
                cat = (src_anns[0]['category_id'] if src_anns
                       and rng.random() < 0.5 else int(rng.integers(1, 11)))
            elif r < 0.8:
                # outside the image, not clamped
                box = [float(W + rng.uniform(1, 50)),
                       float(rng.uniform(0, H)), 20.0, 20.0]
                cat = int(rng.integers(1, 11))
            else:
                box, cat = _random_box(rng), int(rng.integers(1, 11))
            box = [float(v) for v in np.float32(box)]
            d = dict(image_id=img['id'],
                     category_id=cat,
                     bbox=box,
                     score=float(np.round(rng.uniform(0.05, 1), 1)))
            if segm_format == 'rle':
                poly = _octagon(*box)
                rle = mask_utils.merge(mask_utils.frPyObjects([poly], H, W))
                rle['counts'] = rle['counts'].decode()
                d['segmentation'] = rle
            elif segm_format == 'poly':
                d['segmentation'] = [_octagon(*box)]
            dets.append(d)
    return dets


def lvis_api(gt_file, dets, iou_type, max_dets, img_ids, monkeypatch):
    """Summary and per-class AP of the unmodified lvis-api."""
    with monkeypatch.context() as m:
        m.setattr(np, 'float', float, raising=False)
        gt = LVIS(gt_file)
        dt = LVISResults(gt, copy.deepcopy(dets), max_dets=max_dets)
        ev = LVISEval(gt, dt, iou_type)
        ev.params.max_dets = max_dets
        if img_ids is not None:
            ev.params.img_ids = list(img_ids)
        ev.run()
    prec = ev.eval['precision']
    aps = {}
    for k, c in enumerate(ev.params.cat_ids):
        p = prec[:, :, k, 0]
        aps[c] = float(p[p > -1].mean()) if (p > -1).any() else math.nan
    return {k: float(v) for k, v in ev.results.items()}, aps


def reference(gt_file, dets, iou_type, max_dets, img_ids, monkeypatch):
    kept = dets if max_dets < 0 else [1] * max_dets
    if dets and kept:
        return lvis_api(gt_file, dets, iou_type, max_dets, img_ids,
                        monkeypatch)
    stats, ev = run_lvis_eval(gt_file, dets, iou_type, max_dets, img_ids)
    return stats, per_class_ap(ev)


def assert_equal(got, ref):
    (stats, aps), (ref_stats, ref_aps) = got, ref
    assert list(stats) == list(ref_stats)
    for k, v in ref_stats.items():
        assert abs(stats[k] - v) <= TOL, (k, stats[k], v)
    assert sorted(aps) == sorted(ref_aps)
    for c, v in ref_aps.items():
        if math.isnan(v):
            assert math.isnan(aps[c]), c
        else:
            assert abs(aps[c] - v) <= TOL, (c, aps[c], v)


def fast(gt_file, dets, iou_type, max_dets=300, img_ids=None):
    stats, ev = run_fast_lvis_eval(gt_file, copy.deepcopy(dets), iou_type,
                                   max_dets, img_ids)
    return stats, per_class_ap(ev)


def write(tmp_path, gt, name='gt.json'):
    path = osp.join(str(tmp_path), name)
    with open(path, 'w') as f:
        json.dump(gt, f)
    return path


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
@pytest.mark.parametrize('seed', range(10))
def test_random_degenerate_inputs(tmp_path, monkeypatch, iou_type, seed):
    gt = make_gt(seed)
    gt_file = write(tmp_path, gt)
    rng = np.random.default_rng(seed)
    fmt = ['rle', 'box', 'poly'][seed % 3] if iou_type == 'segm' else 'rle'
    dets = make_dets(gt, seed, fmt)
    if fmt == 'box':
        for d in dets:
            d.pop('segmentation', None)
    max_dets = [300, -1, 1, 3, 7][seed % 5]
    img_ids = (None if seed % 4 else sorted(
        int(i) for i in rng.choice(np.arange(1, 9), 5, replace=False)))
    ref = reference(gt_file, dets, iou_type, max_dets, img_ids, monkeypatch)
    assert_equal(fast(gt_file, dets, iou_type, max_dets, img_ids), ref)
    # the case is not vacuous: zero-extent detections and GT of area <= 0
    # are there, and some categories are evaluated
    assert any(d['bbox'][2] * d['bbox'][3] == 0 for d in dets)
    assert any(not a['area'] > 0 for a in gt['annotations'])
    assert any(not math.isnan(v) for v in ref[1].values())


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_segm_only_results_take_the_mask_area(tmp_path, monkeypatch,
                                              iou_type):
    # no 'bbox' in the first detection: lvis-api takes mask areas (and the
    # mask's box for bbox IoU); empty masks have area 0 and are left out
    gt = make_gt(21)
    gt_file = write(tmp_path, gt)
    dets = make_dets(gt, 21)
    for d in dets:
        del d['bbox']
    assert any(mask_utils.area(d['segmentation']) == 0 for d in dets)
    ref = reference(gt_file, dets, iou_type, 300, None, monkeypatch)
    assert_equal(fast(gt_file, dets, iou_type), ref)


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_zero_extent_boxes_take_no_part(tmp_path, monkeypatch, iou_type):
    """The issue's case: a box beyond the image border that the detector
    clamps to zero width.  lvis-api leaves it out of matching, so adding
    such boxes (with top scores, on GT categories) changes nothing."""
    gt = make_gt(3)
    gt_file = write(tmp_path, gt)
    dets = [d for d in make_dets(gt, 3) if d['bbox'][2] * d['bbox'][3] > 0]
    base = fast(gt_file, dets, iou_type)
    extra = []
    for a in gt['annotations']:
        if a['area'] > 0 and not a.get('ignore') and a['id'] != 0:
            x, y, w, h = a['bbox']
            box = [float(W), y, 0.0, h]
            poly = _octagon(*box)
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], H, W))
            rle['counts'] = rle['counts'].decode()
            extra.append(
                dict(image_id=a['image_id'],
                     category_id=a['category_id'],
                     bbox=box,
                     score=1.0,
                     segmentation=rle))
    assert extra
    with_zero = extra + dets
    got = fast(gt_file, with_zero, iou_type)
    assert_equal(got, base)
    assert_equal(
        got, reference(gt_file, with_zero, iou_type, 300, None,
                       monkeypatch))


def test_no_limit_and_zero_limit(tmp_path, monkeypatch):
    # max_dets=-1 used to raise MemoryError(std::bad_alloc) in the library
    gt = make_gt(5)
    gt_file = write(tmp_path, gt)
    dets = make_dets(gt, 5) * 3  # > 25 per image, repeated scores
    for iou_type in ('bbox', 'segm'):
        got = fast(gt_file, dets, iou_type, max_dets=-1)
        assert 'AR@-1' in got[0]
        assert_equal(
            got, reference(gt_file, dets, iou_type, -1, None, monkeypatch))
        # max_dets=0 keeps nothing: AP 0 wherever there is GT
        assert_equal(fast(gt_file, dets, iou_type, max_dets=0),
                     reference(gt_file, dets, iou_type, 0, None,
                               monkeypatch))


def test_all_ties_across_images(tmp_path, monkeypatch):
    # one score for everything: only lvis-api's tie order decides
    gt = make_gt(8)
    gt_file = write(tmp_path, gt)
    dets = make_dets(gt, 8)
    for d in dets:
        d['score'] = 0.5
    # result order not grouped by image
    dets = [dets[i] for i in np.random.default_rng(0).permutation(len(dets))]
    for iou_type in ('bbox', 'segm'):
        for max_dets in (300, 4):
            assert_equal(
                fast(gt_file, dets, iou_type, max_dets),
                reference(gt_file, dets, iou_type, max_dets, None,
                          monkeypatch))


def test_numpy_scalars(tmp_path, monkeypatch):
    # float32 scores and numpy boxes are read as lvis-api reads them
    gt = make_gt(9)
    gt_file = write(tmp_path, gt)
    dets = make_dets(gt, 9)
    np_dets = [
        dict(d, score=np.float32(d['score']), image_id=np.int64(d['image_id']))
        for d in dets
    ]
    assert_equal(fast(gt_file, np_dets, 'bbox'),
                 reference(gt_file, dets, 'bbox', 300, None, monkeypatch))


def test_area_range_changes_the_greedy_choice(tmp_path, monkeypatch):
    """A detection reaching a small GT A (IoU 0.62) and a medium GT B (IoU
    0.73): over all areas it takes B, but in the small range B is ignored
    and it takes A, so the next detection (A's exact box) finds A taken
    and is a FP there.  With a third TP (image 2) after it, small AP is
    (51 + 50 * 2/3) / 101 at IoU 0.5-0.6 and 1 above; the matching of the
    'all' range reused for 'small' would give 1 everywhere."""
    cat = dict(id=1, name='c', frequency='f')
    box = dict(A=[10., 10., 30., 30.], B=[12., 12., 40., 40.],
               C=[50., 50., 30., 30.])

    def ann(i, img, b):
        x, y, w, h = b
        return dict(id=i, image_id=img, category_id=1, bbox=b, area=w * h,
                    segmentation=[[x, y, x, y + h, x + w, y + h, x + w, y]])

    gt = dict(images=[
        dict(id=i, height=H, width=W, neg_category_ids=[],
             not_exhaustive_category_ids=[]) for i in (1, 2)
    ],
              annotations=[
                  ann(1, 1, box['A']),
                  ann(2, 1, box['B']),
                  ann(3, 2, box['C'])
              ],
              categories=[cat])
    dets = [
        dict(image_id=1, category_id=1, bbox=[11., 11., 36., 36.],
             score=0.9),
        dict(image_id=1, category_id=1, bbox=box['A'], score=0.8),
        dict(image_id=2, category_id=1, bbox=box['C'], score=0.7),
    ]
    gt_file = write(tmp_path, gt)
    got = fast(gt_file, dets, 'bbox')
    assert_equal(got, reference(gt_file, dets, 'bbox', 300, None,
                                monkeypatch))
    expected = (3 * (51 + 50 * 2 / 3) + 7 * 101) / 1010
    assert abs(got[0]['APs'] - expected) < 1e-12
    # medium: B alone, reached by the first detection up to IoU 0.7
    assert abs(got[0]['APm'] - 0.5) < 1e-12
