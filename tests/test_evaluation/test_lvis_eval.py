"""mmlt's LVIS evaluation against the original lvis-api (and by hand)."""
import copy
import json
import math

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis import LVIS, LVISEval, LVISResults

from mmlt.evaluation.lvis_eval import (LVISAnnotationError, LVISEvalNP,
                                       check_lvis_gt, per_class_ap,
                                       run_lvis_eval, summary_keys)

IMG_H, IMG_W = 120, 160
# json order deliberately not sorted by id; id 2 never has GT
CATEGORIES = [
    dict(id=5, name='e_freq', frequency='f', instance_count=900,
         image_count=300),
    dict(id=1, name='a_rare', frequency='r', instance_count=4, image_count=3),
    dict(id=3, name='c_common', frequency='c', instance_count=40,
         image_count=25),
    dict(id=2, name='b_rare_no_gt', frequency='r', instance_count=1,
         image_count=1),
    dict(id=4, name='d_common', frequency='c', instance_count=70,
         image_count=60),
    dict(id=6, name='f_freq', frequency='f', instance_count=2500,
         image_count=1200),
    dict(id=7, name='g_rare', frequency='r', instance_count=9, image_count=7),
]
CAT_IDS = [c['id'] for c in CATEGORIES]
GT_CATS = [1, 3, 4, 5, 6, 7]


def octagon(x, y, w, h):
    """Polygon of a box with cut corners, so masks differ from boxes."""
    cx, cy = w * 0.25, h * 0.25
    return [
        x + cx, y, x + w - cx, y, x + w, y + cy, x + w, y + h - cy,
        x + w - cx, y + h, x + cx, y + h, x, y + h - cy, x, y + cy
    ]


def random_box(rng, small=False):
    if small:
        w, h = rng.uniform(6, 28, size=2)
    else:
        w, h = rng.uniform(10, 140), rng.uniform(10, 110)
    x = rng.uniform(0, IMG_W - w)
    y = rng.uniform(0, IMG_H - h)
    return [float(x), float(y), float(w), float(h)]


def make_gt(seed=0, num_imgs=6):
    """A small LVIS GT dict: all groups, neg/not-exhaustive ids, polygons."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for img_id in range(1, num_imgs + 1):
        present = set()
        for _ in range(int(rng.integers(1, 6))):
            cat = int(rng.choice(GT_CATS))
            box = random_box(rng, small=rng.random() < 0.3)
            poly = octagon(*box)
            rle = mask_utils.merge(
                mask_utils.frPyObjects([poly], IMG_H, IMG_W))
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img_id,
                    category_id=cat,
                    bbox=box,
                    area=float(mask_utils.area(rle)),
                    segmentation=[poly]))
            present.add(cat)
        absent = [c for c in CAT_IDS if c not in present]
        neg = [c for c in absent if rng.random() < 0.5]
        # cat 2 is negative somewhere so detections on it count as FP
        if img_id == 1 and 2 not in neg:
            neg.append(2)
        not_exh = [c for c in sorted(present) if rng.random() < 0.3]
        images.append(
            dict(
                id=img_id,
                height=IMG_H,
                width=IMG_W,
                neg_category_ids=sorted(neg),
                not_exhaustive_category_ids=not_exh))
    return dict(
        images=images,
        annotations=anns,
        categories=copy.deepcopy(CATEGORIES))


def box_to_rle(box):
    rle = mask_utils.merge(mask_utils.frPyObjects([octagon(*box)], IMG_H,
                                                  IMG_W))
    rle['counts'] = rle['counts'].decode()
    return rle


def make_dets(gt, seed=0, num_range=(4, 30), with_segm=True):
    """Random detections: jittered GT boxes and random boxes on any category,
    scores with one decimal (many ties)."""
    rng = np.random.default_rng(1000 + seed)
    by_img = {}
    for ann in gt['annotations']:
        by_img.setdefault(ann['image_id'], []).append(ann)
    dets = []
    for img in gt['images']:
        img_anns = by_img.get(img['id'], [])
        for _ in range(int(rng.integers(*num_range))):
            if img_anns and rng.random() < 0.6:
                src = img_anns[int(rng.integers(len(img_anns)))]
                x, y, w, h = src['bbox']
                jit = rng.normal(0, 0.08, size=4) * [w, h, w, h]
                box = [x + jit[0], y + jit[1], w + jit[2], h + jit[3]]
                box = [float(v) for v in np.maximum(box, 1.0)]
                cat = (src['category_id']
                       if rng.random() < 0.7 else int(rng.choice(CAT_IDS)))
            else:
                box = random_box(rng, small=rng.random() < 0.3)
                cat = int(rng.choice(CAT_IDS))
            # float32 like a detector's output
            box = [float(v) for v in np.float32(box)]
            det = dict(
                image_id=img['id'],
                category_id=cat,
                bbox=box,
                score=float(np.float32(np.round(rng.uniform(0.05, 1), 1))))
            if with_segm:
                det['segmentation'] = box_to_rle(box)
            dets.append(det)
    return dets


def write_gt(tmp_path, gt, name='gt.json'):
    path = tmp_path / name
    path.write_text(json.dumps(gt))
    return str(path)


def lvis_api_reference(gt_file,
                       dets,
                       iou_type,
                       monkeypatch,
                       max_dets=300,
                       img_ids=None):
    """Summary and per-class AP from the original lvis-api.

    ``np.float`` exists only inside this function, so mmlt's code runs
    without it.
    """
    with monkeypatch.context() as m:
        m.setattr(np, 'float', float, raising=False)
        gt = LVIS(gt_file)
        dt = LVISResults(gt, copy.deepcopy(dets), max_dets=max_dets)
        ev = LVISEval(gt, dt, iou_type)
        ev.params.max_dets = max_dets
        if img_ids is not None:
            ev.params.img_ids = list(img_ids)
        ev.run()
    precision = ev.eval['precision']
    per_cls = {}
    for k, cat_id in enumerate(ev.params.cat_ids):
        p = precision[:, :, k, 0]
        per_cls[cat_id] = p[p > -1].mean() if (p > -1).any() else math.nan
    return dict(ev.results), per_cls


def assert_same(stats, ref_stats, aps, ref_aps):
    assert set(stats) == set(ref_stats)
    for k in ref_stats:
        assert stats[k] == pytest.approx(float(ref_stats[k]), abs=1e-9), k
    assert list(aps) == sorted(ref_aps)
    for cat_id, ap in ref_aps.items():
        if math.isnan(ap):
            assert math.isnan(aps[cat_id])
        else:
            assert aps[cat_id] == pytest.approx(ap, abs=1e-9), cat_id


def test_np_float_is_really_gone():
    # the premise of this module: lvis-api alone cannot accumulate here
    assert not hasattr(np, 'float')


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_equal_to_lvis_api(tmp_path, monkeypatch, iou_type, seed):
    gt = make_gt(seed)
    gt_file = write_gt(tmp_path, gt)
    dets = make_dets(gt, seed)
    # the data covers what the federated rules treat specially
    neg = {(i['id'], c) for i in gt['images'] for c in i['neg_category_ids']}
    nel = {(i['id'], c)
           for i in gt['images'] for c in i['not_exhaustive_category_ids']}
    keys = {(d['image_id'], d['category_id']) for d in dets}
    assert keys & neg and keys & nel
    assert any(d['category_id'] == 2 for d in dets)
    scores = [d['score'] for d in dets]
    assert len(set(scores)) < len(scores)
    dets_before = copy.deepcopy(dets)

    ref_stats, ref_aps = lvis_api_reference(gt_file, dets, iou_type,
                                            monkeypatch)
    stats, ev = run_lvis_eval(gt_file, dets, iou_type)
    aps = per_class_ap(ev)
    assert_same(stats, ref_stats, aps, ref_aps)
    assert list(stats) == list(summary_keys(300))
    with_gt = {a['category_id'] for a in gt['annotations']}
    for cat_id, ap in aps.items():
        assert (0 <= ap <= 1) if cat_id in with_gt else math.isnan(ap)
    assert dets == dets_before  # caller's detections untouched
    # AP is the mean of the per-class APs of classes with GT
    valid = [a for a in aps.values() if not math.isnan(a)]
    assert stats['AP'] == pytest.approx(np.mean(valid), abs=1e-12)


def test_max_dets_limit(tmp_path, monkeypatch):
    gt = make_gt(3)
    gt_file = write_gt(tmp_path, gt)
    dets = make_dets(gt, 3, num_range=(8, 20), with_segm=False)
    ref_stats, ref_aps = lvis_api_reference(
        gt_file, dets, 'bbox', monkeypatch, max_dets=5)
    stats, ev = run_lvis_eval(gt_file, dets, 'bbox', max_dets=5)
    assert 'AR@5' in stats
    assert_same(stats, ref_stats, per_class_ap(ev), ref_aps)


def test_image_subset(tmp_path, monkeypatch):
    gt = make_gt(2)
    gt_file = write_gt(tmp_path, gt)
    dets = make_dets(gt, 2, with_segm=False)
    subset = [2, 3, 5]
    ref_stats, ref_aps = lvis_api_reference(
        gt_file, dets, 'bbox', monkeypatch, img_ids=subset)
    stats, ev = run_lvis_eval(gt_file, dets, 'bbox', img_ids=subset)
    assert_same(stats, ref_stats, per_class_ap(ev), ref_aps)
    full, _ = run_lvis_eval(gt_file, dets, 'bbox')
    assert full['AP'] != stats['AP']


def test_accumulate_accepts_lvis_api_dense_eval_imgs(tmp_path, monkeypatch):
    gt = make_gt(4)
    gt_file = write_gt(tmp_path, gt)
    dets = make_dets(gt, 4, with_segm=False)
    ref_stats, ref_aps = lvis_api_reference(gt_file, dets, 'bbox',
                                            monkeypatch)
    ev = LVISEvalNP(gt_file, dets, 'bbox')
    LVISEval.evaluate(ev)  # lvis-api's own loop, with the None entries
    assert None in ev.eval_imgs
    ev.accumulate()
    ev.summarize()
    assert_same({k: float(v)
                 for k, v in ev.results.items()}, ref_stats,
                per_class_ap(ev), ref_aps)


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_empty_detections(tmp_path, iou_type):
    gt = make_gt(0)
    gt_file = write_gt(tmp_path, gt)
    # lvis-api itself cannot load an empty result list
    with pytest.raises(IndexError):
        LVISResults(LVIS(gt_file), [])
    stats, ev = run_lvis_eval(gt_file, [], iou_type)
    aps = per_class_ap(ev)
    for cat_id in CAT_IDS:
        if cat_id in {a['category_id'] for a in gt['annotations']}:
            assert aps[cat_id] == 0
        else:
            assert math.isnan(aps[cat_id])
    for k in ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf', 'AR@300'):
        assert stats[k] == 0, k


def hand_gt(tmp_path):
    gt = dict(
        images=[
            dict(
                id=1,
                height=200,
                width=200,
                neg_category_ids=[2],
                not_exhaustive_category_ids=[])
        ],
        annotations=[
            dict(
                id=1,
                image_id=1,
                category_id=1,
                bbox=[0, 0, 100, 100],
                area=10000,
                segmentation=[[0, 0, 100, 0, 100, 100, 0, 100]])
        ],
        categories=[
            dict(id=1, name='one', frequency='f'),
            dict(id=2, name='two', frequency='r')
        ])
    return write_gt(tmp_path, gt, 'hand.json')


@pytest.mark.parametrize(
    'dets, expected',
    [
        # one exact TP: AP 1
        ([([0, 0, 100, 100], 0.9)], 1.0),
        # FP ranked above the TP: precision 1/2 at every recall
        ([([150, 150, 40, 40], 0.9), ([0, 0, 100, 100], 0.8)], 0.5),
        # TP above the FP: the FP does not lower precision at recall <= 1
        ([([0, 0, 100, 100], 0.9), ([150, 150, 40, 40], 0.8)], 1.0),
        # IoU 0.72 is a TP at 5 of the 10 thresholds (0.50 ... 0.70)
        ([([0, 0, 100, 72], 0.9)], 0.5),
        # both: FP first, then the IoU-0.72 box: 0.5 * 0.5
        ([([150, 150, 40, 40], 0.9), ([0, 0, 100, 72], 0.8)], 0.25),
    ])
def test_per_class_ap_by_hand(tmp_path, dets, expected):
    dets = [
        dict(image_id=1, category_id=1, bbox=b, score=s) for b, s in dets
    ]
    # a detection on the negative class 2 (no GT) must not matter for 1
    dets.append(
        dict(image_id=1, category_id=2, bbox=[0, 0, 100, 100], score=0.95))
    stats, ev = run_lvis_eval(hand_gt(tmp_path), dets, 'bbox')
    aps = per_class_ap(ev)
    assert aps[1] == pytest.approx(expected, abs=1e-12)
    assert math.isnan(aps[2])
    assert stats['AP'] == pytest.approx(expected, abs=1e-12)
    assert stats['APf'] == pytest.approx(expected, abs=1e-12)
    assert stats['APr'] == -1  # no rare class with GT
    assert stats['APs'] == -1 and stats['APm'] == -1  # only a large GT


def test_class_agnostic_recall_by_hand(tmp_path):
    gt = json.loads(open(hand_gt(tmp_path)).read())
    gt['annotations'].append(
        dict(
            id=2,
            image_id=1,
            category_id=2,
            bbox=[120, 120, 50, 50],
            area=2500,
            segmentation=[[120, 120, 170, 120, 170, 170, 120, 170]]))
    gt['images'][0]['neg_category_ids'] = []
    gt_file = write_gt(tmp_path, gt, 'hand2.json')
    # class-agnostic proposals (label of cat 1): exact match on GT 1, IoU
    # 0.72 on GT 2 -> recall 1 at all 10 thresholds and at 5 of them
    dets = [
        dict(image_id=1, category_id=1, bbox=[0, 0, 100, 100], score=0.9),
        dict(image_id=1, category_id=1, bbox=[120, 120, 50, 36], score=0.8),
    ]
    stats, _ = run_lvis_eval(gt_file, dets, 'bbox', max_dets=2,
                             use_cats=False)
    assert stats['AR@2'] == pytest.approx(0.75)
    stats, _ = run_lvis_eval(gt_file, dets, 'bbox', max_dets=1,
                             use_cats=False)
    assert stats['AR@1'] == pytest.approx(0.5)


def test_check_lvis_gt(tmp_path):
    gt = make_gt(0)
    check_lvis_gt(LVIS(write_gt(tmp_path, gt)))
    for field in ('neg_category_ids', 'not_exhaustive_category_ids'):
        bad = copy.deepcopy(gt)
        del bad['images'][2][field]
        path = write_gt(tmp_path, bad, f'no_{field}.json')
        with pytest.raises(LVISAnnotationError, match=field) as e:
            run_lvis_eval(path, [], 'bbox')
        assert path in str(e.value) and 'original LVIS' in str(e.value)
    bad = copy.deepcopy(gt)
    del bad['categories'][1]['frequency']
    path = write_gt(tmp_path, bad, 'no_freq.json')
    with pytest.raises(LVISAnnotationError, match='frequency'):
        run_lvis_eval(path, [], 'bbox')


def test_unknown_image_ids(tmp_path):
    gt_file = hand_gt(tmp_path)
    dets = [dict(image_id=99, category_id=1, bbox=[0, 0, 1, 1], score=1.0)]
    with pytest.raises(ValueError, match='not in the GT'):
        run_lvis_eval(gt_file, dets, 'bbox')
