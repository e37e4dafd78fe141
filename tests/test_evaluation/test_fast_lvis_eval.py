"""The fast LVIS backend (faster-coco-eval) against lvis-api.

Every summary value and every per-class AP must equal lvis-api's (mmlt's
lvis-api wrapper, and the original lvis-api where it runs) to 1e-9.
"""
import copy
import importlib.util
import math
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from lvis import LVIS

from mmlt.evaluation.lvis_eval import per_class_ap, run_lvis_eval

pytest.importorskip('faster_coco_eval')
from mmlt.evaluation.fast_lvis_eval import run_fast_lvis_eval  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    'lvis_eval_helpers', osp.join(osp.dirname(__file__), 'test_lvis_eval.py'))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

TOL = 1e-9


def both(gt_file, dets, iou_type, **kw):
    """(stats, per-class AP) of the lvis-api wrapper and of the fast one."""
    ref_stats, ref_ev = run_lvis_eval(gt_file, dets, iou_type, **kw)
    stats, ev = run_fast_lvis_eval(gt_file, dets, iou_type, **kw)
    ref_aps = per_class_ap(ref_ev) if kw.get('use_cats', True) else None
    aps = per_class_ap(ev) if kw.get('use_cats', True) else None
    return (stats, aps), (ref_stats, ref_aps)


def assert_equal(fast, ref):
    (stats, aps), (ref_stats, ref_aps) = fast, ref
    assert list(stats) == list(ref_stats)
    for k, v in ref_stats.items():
        assert abs(stats[k] - v) <= TOL, (k, stats[k], v)
    if ref_aps is None:
        return
    assert list(aps) == list(ref_aps)
    for c, v in ref_aps.items():
        if math.isnan(v):
            assert math.isnan(aps[c]), c
        else:
            assert abs(aps[c] - v) <= TOL, (c, aps[c], v)


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
@pytest.mark.parametrize('seed', range(6))
def test_random_small(tmp_path, iou_type, seed):
    # H's data: a category without GT (2), neg and not-exhaustive ids,
    # polygon GT, RLE detections, scores with one decimal (many ties)
    gt = H.make_gt(seed, num_imgs=12)
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, seed)
    assert_equal(*both(gt_file, dets, iou_type))


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_equal_to_original_lvis_api(tmp_path, monkeypatch, iou_type):
    gt = H.make_gt(3, num_imgs=10)
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, 3)
    ref_stats, ref_aps = H.lvis_api_reference(gt_file, dets, iou_type,
                                              monkeypatch)
    stats, ev = run_fast_lvis_eval(gt_file, dets, iou_type)
    H.assert_same(stats, ref_stats, per_class_ap(ev), ref_aps)


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_empty_detections(tmp_path, iou_type):
    gt_file = H.write_gt(tmp_path, H.make_gt(0))
    fast, ref = both(gt_file, [], iou_type)
    assert_equal(fast, ref)
    assert fast[0]['AP'] == 0 and fast[0]['AR@300'] == 0


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_all_scores_tied(tmp_path, iou_type):
    # every detection has the same score: the result depends only on the
    # tie order (image order, then result order within an image)
    gt = H.make_gt(1, num_imgs=10)
    dets = H.make_dets(gt, 1, num_range=(10, 40))
    for d in dets:
        d['score'] = 0.5
    assert_equal(*both(H.write_gt(tmp_path, gt), dets, iou_type))


def test_max_dets_and_image_subset(tmp_path):
    gt = H.make_gt(2, num_imgs=12)
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, 2, num_range=(20, 40))
    assert_equal(*both(gt_file, dets, 'bbox', max_dets=7))
    assert_equal(*both(gt_file, dets, 'segm', img_ids=[2, 3, 5, 8]))


def test_class_agnostic(tmp_path):
    # delegated to the lvis-api backend (faster-coco-eval ranks tied
    # class-agnostic detections in another order)
    gt = H.make_gt(4, num_imgs=12)
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, 4)
    for num in (5, 100):
        assert_equal(
            *both(gt_file, dets, 'bbox', max_dets=num, use_cats=False))


def test_segm_rle_only_and_box_only(tmp_path):
    gt = H.make_gt(5, num_imgs=10)
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, 5)
    # RLE without bbox: lvis-api takes the mask area
    rle_only = [{k: v for k, v in d.items() if k != 'bbox'} for d in dets]
    assert_equal(*both(gt_file, rle_only, 'segm'))
    # boxes evaluated as segm: lvis-api uses the box polygon as the mask
    box_only = [{
        k: v
        for k, v in d.items() if k != 'segmentation'
    } for d in dets]
    assert_equal(*both(gt_file, box_only, 'segm'))


def test_segm_mixed_mask_formats(tmp_path):
    """Compressed RLEs (str or bytes counts), polygons and uncompressed RLEs
    in one result set: lvis-api's numbers, and the same as all-str RLEs
    (the formats encode the same masks)."""
    gt = H.make_gt(11, num_imgs=12)
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, 11)
    sizes = {i['id']: (i['height'], i['width']) for i in gt['images']}
    mixed = []
    for i, d in enumerate(dets):
        d = dict(d)
        h, w = sizes[d['image_id']]
        if i % 4 == 1:
            d['segmentation'] = dict(
                size=d['segmentation']['size'],
                counts=d['segmentation']['counts'].encode())
        elif i % 4 == 2:
            d['segmentation'] = [H.octagon(*d['bbox'])]
        elif i % 4 == 3:
            mask = mask_utils.decode(d['segmentation'])
            flat = mask.flatten(order='F')
            change = np.flatnonzero(np.diff(flat)) + 1
            runs = np.diff(np.concatenate([[0], change, [flat.size]]))
            counts = runs.tolist() if flat[0] == 0 else [0] + runs.tolist()
            d['segmentation'] = dict(size=[h, w], counts=counts)
        mixed.append(d)
    assert_equal(*both(gt_file, mixed, 'segm'))
    (stats, aps), _ = both(gt_file, dets, 'segm')
    (mstats, maps), _ = both(gt_file, mixed, 'segm')
    assert_equal((mstats, maps), (stats, aps))


def test_federated_fields_matter(tmp_path):
    """The neg/not-exhaustive cases are not vacuous: changing the lists
    changes the numbers, and both backends follow."""
    gt = H.make_gt(0, num_imgs=12)
    dets = H.make_dets(gt, 0)
    base = both(H.write_gt(tmp_path, gt, 'a.json'), dets, 'bbox')
    assert_equal(*base)
    # every absent category negative, every present one not exhaustive
    gt2 = copy.deepcopy(gt)
    present = {}
    for a in gt2['annotations']:
        present.setdefault(a['image_id'], set()).add(a['category_id'])
    for img in gt2['images']:
        pos = present.get(img['id'], set())
        img['neg_category_ids'] = [c for c in H.CAT_IDS if c not in pos]
        img['not_exhaustive_category_ids'] = sorted(pos)
    changed = both(H.write_gt(tmp_path, gt2, 'b.json'), dets, 'bbox')
    assert_equal(*changed)
    assert changed[1][0]['AP'] != base[1][0]['AP']
    # no negatives at all: detections on absent categories are dropped
    for img in gt2['images']:
        img['neg_category_ids'] = []
        img['not_exhaustive_category_ids'] = []
    none = both(H.write_gt(tmp_path, gt2, 'c.json'), dets, 'bbox')
    assert_equal(*none)
    assert none[1][0]['AP'] != base[1][0]['AP']


def make_mid_gt(seed, num_imgs=200, num_cats=50):
    """LVIS-style GT with varied image sizes, all frequency groups,
    categories without GT and federated lists."""
    rng = np.random.default_rng(seed)
    freqs = rng.choice(['r', 'c', 'f'], size=num_cats, p=[.3, .35, .35])
    cats = [
        dict(id=int(i) + 1, name=f'c{i}', frequency=str(f))
        for i, f in enumerate(freqs)
    ]
    # heavy-tailed class popularity; the last 3 classes never appear
    pop = 1.0 / np.arange(1, num_cats + 1)**1.1
    pop[-3:] = 0
    pop /= pop.sum()
    images, anns = [], []
    for img_id in range(1, num_imgs + 1):
        W, H_ = int(rng.integers(200, 641)), int(rng.integers(200, 641))
        present = set()
        for _ in range(int(rng.integers(0, 12))):
            cat = int(rng.choice(num_cats, p=pop)) + 1
            s = rng.choice([
                rng.uniform(4, 30),
                rng.uniform(30, 100),
                rng.uniform(100, 190)
            ])
            w, h = np.minimum(s * rng.uniform(0.6, 1.4, size=2),
                              [W - 1, H_ - 1])
            x, y = rng.uniform(0, W - w), rng.uniform(0, H_ - h)
            poly = H.octagon(float(x), float(y), float(w), float(h))
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], H_, W))
            anns.append(
                dict(id=len(anns) + 1,
                     image_id=img_id,
                     category_id=cat,
                     bbox=[float(x), float(y),
                           float(w), float(h)],
                     area=float(mask_utils.area(rle)),
                     segmentation=[poly]))
            present.add(cat)
        absent = [c['id'] for c in cats if c['id'] not in present]
        neg = sorted(
            int(c)
            for c in rng.choice(absent,
                                size=min(len(absent), int(rng.integers(0, 8))),
                                replace=False))
        not_exh = sorted(c for c in present if rng.random() < 0.1)
        images.append(
            dict(id=img_id,
                 height=H_,
                 width=W,
                 neg_category_ids=neg,
                 not_exhaustive_category_ids=not_exh))
    return dict(images=images, annotations=anns, categories=cats)


def make_mid_dets(gt, seed, per_img=60, with_segm=True):
    rng = np.random.default_rng(seed + 77)
    imgs = {i['id']: i for i in gt['images']}
    by_img = {}
    for a in gt['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    num_cats = len(gt['categories'])
    dets = []
    for img_id, img in imgs.items():
        W, H_ = img['width'], img['height']
        for _ in range(int(rng.integers(per_img // 2, per_img + 1))):
            src = by_img.get(img_id)
            if src and rng.random() < 0.5:
                a = src[int(rng.integers(len(src)))]
                x, y, w, h = a['bbox']
                j = rng.normal(0, 0.1, 4) * [w, h, w, h]
                box = np.maximum([x + j[0], y + j[1], w + j[2], h + j[3]], 1)
                cat = (a['category_id'] if rng.random() < 0.8 else int(
                    rng.integers(1, num_cats + 1)))
            else:
                w, h = rng.uniform(3, 200, 2)
                box = [rng.uniform(0, W - 1), rng.uniform(0, H_ - 1), w, h]
                cat = int(rng.integers(1, num_cats + 1))
            box = [float(v) for v in np.float32(box)]
            # 2 decimals: ties across and within images
            d = dict(image_id=img_id,
                     category_id=cat,
                     bbox=box,
                     score=float(np.float32(round(rng.uniform(0, 1), 2))))
            if with_segm:
                rle = mask_utils.merge(
                    mask_utils.frPyObjects([H.octagon(*box)], H_, W))
                rle['counts'] = rle['counts'].decode()
                d['segmentation'] = rle
            dets.append(d)
    return dets


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_mid_size_random(tmp_path, iou_type):
    gt = make_mid_gt(7)
    gt_file = H.write_gt(tmp_path, gt)
    dets = make_mid_dets(gt, 7, with_segm=iou_type == 'segm')
    fast, ref = both(gt_file, dets, iou_type)
    assert_equal(fast, ref)
    # the case is not degenerate
    assert 0.05 < ref[0]['AP'] < 0.95
    assert sum(not math.isnan(v) for v in ref[1].values()) >= 40
    assert sum(math.isnan(v) for v in ref[1].values()) >= 3
    # max dets cuts here (up to 60 per image)
    assert_equal(*both(gt_file, dets, iou_type, max_dets=20))


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_crowd_and_ignore_gt(tmp_path, iou_type):
    # lvis-api matches crowd GT as ordinary GT and honours 'ignore'
    # (faster-coco-eval alone would treat iscrowd as ignore + crowd IoU)
    gt = H.make_gt(6, num_imgs=12)
    for i, a in enumerate(gt['annotations']):
        if i % 3 == 0:
            a['iscrowd'] = 1
        if i % 4 == 1:
            a['ignore'] = 1
        if i % 5 == 2:
            a['is_crowd'] = True
    gt_file = H.write_gt(tmp_path, gt)
    dets = H.make_dets(gt, 6)
    assert_equal(*both(gt_file, dets, iou_type))


def test_gt_and_dets_left_unchanged(tmp_path):
    gt = H.make_gt(0)
    lvis_gt = LVIS(H.write_gt(tmp_path, gt))
    dets = H.make_dets(gt, 0)
    before = copy.deepcopy(dets)
    keys = {k for a in lvis_gt.anns.values() for k in a}
    run_fast_lvis_eval(lvis_gt, dets, 'segm')
    assert dets == before
    assert {k for a in lvis_gt.anns.values() for k in a} == keys
    # and the same GT object still evaluates identically afterwards
    assert_equal(*both(lvis_gt, dets, 'segm'))


def test_missing_library_message(monkeypatch):
    import builtins

    from mmlt.evaluation import fast_lvis_eval
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith('faster_coco_eval'):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    assert not fast_lvis_eval.faster_coco_eval_available()
    with pytest.raises(ImportError, match='pip install faster-coco-eval'):
        fast_lvis_eval.run_fast_lvis_eval('unused.json', [], 'bbox')


def test_segm_image_without_gt_or_negatives(tmp_path):
    # faster-coco-eval 1.8 alone crashes here (unordered_map::at): an image
    # without GT and without negative categories that has detections
    gt = H.make_gt(0, num_imgs=4)
    gt['images'].append(
        dict(id=99,
             height=H.IMG_H,
             width=H.IMG_W,
             neg_category_ids=[],
             not_exhaustive_category_ids=[]))
    dets = H.make_dets(gt, 0)
    assert any(d['image_id'] == 99 for d in dets)
    assert_equal(*both(H.write_gt(tmp_path, gt), dets, 'segm'))


def test_unknown_image_ids(tmp_path):
    gt = H.make_gt(0)
    dets = H.make_dets(gt, 0)
    dets[3] = dict(dets[3], image_id=12345)
    with pytest.raises(ValueError, match='not in the GT'):
        run_fast_lvis_eval(H.write_gt(tmp_path, gt), dets, 'bbox')
