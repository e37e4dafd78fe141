"""Grouped AP (EQLv2/EFL OpenImages report): the bucket split by hand, the
pycocotools-based per-class AP, GroupedAPMetric and the CLI tool on a tiny
OpenImages-style set (string image ids, 10 classes -> 5 groups of 2)."""
import contextlib
import importlib.util
import io
import json
import math
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

import mmlt  # noqa: F401  (registers the metric)
from mmdet.datasets.api_wrappers import COCO, COCOeval
from mmdet.registry import METRICS
from mmlt.datasets.class_stats import AnnotationError
from mmlt.evaluation.metrics.grouped_ap import (coco_per_class_ap,
                                                grouped_ap, load_train_stats,
                                                parse_iou_thrs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis/openimages_grouped_ap.py')
NAN = float('nan')


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))


# ------------------------------------------------------------- grouping
def test_split_with_ties_by_hand():
    counts = [5, 3, 3, 0, 10, 2, 7, 1, 9, 4]
    aps = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    r = grouped_ap(aps, counts, num_groups=5)
    # ascending counts, ties (classes 1 and 2, count 3) by class index
    assert [g.keys for g in r.groups] == [[3, 7], [5, 1], [2, 9], [0, 6],
                                          [8, 4]]
    assert [g.counts.tolist() for g in r.groups] == [[0, 1], [2, 3], [3, 4],
                                                     [5, 7], [9, 10]]
    expected = [(0.4 + 0.8) / 2, (0.6 + 0.2) / 2, (0.3 + 1.0) / 2,
                (0.1 + 0.7) / 2, (0.9 + 0.5) / 2]
    s = r.summary()
    assert list(s) == ['mAP', 'mAP0', 'mAP1', 'mAP2', 'mAP3', 'mAP4']
    for i, v in enumerate(expected):
        assert s[f'mAP{i}'] == pytest.approx(v)
    assert s['mAP'] == pytest.approx(0.55)
    assert r.num_ignored == 0


def test_ignored_classes_and_empty_bucket():
    counts = [5, 3, 3, 0, 10, 2, 7, 1, 9, 4]
    # class 3 NaN, class 7 -1 (COCO/LVIS "no GT"): bucket 0 has no valid
    # class; class 6 None
    aps = [0.1, 0.2, 0.3, NAN, 0.5, 0.6, None, -1, 0.9, 1.0]
    r = grouped_ap(aps, counts, num_groups=5)
    assert math.isnan(r.groups[0].mAP)
    assert [g.num_ignored for g in r.groups] == [2, 0, 0, 1, 0]
    assert [g.num_valid for g in r.groups] == [0, 2, 2, 1, 2]
    assert r.groups[3].mAP == pytest.approx(0.1)  # class 0 only
    assert r.mAP == pytest.approx((0.1 + 0.2 + 0.3 + 0.5 + 0.6 + 0.9 + 1.0) /
                                  7)
    assert r.num_ignored == 3
    d = r.to_dict()
    assert d['summary']['mAP0'] is None
    assert d['groups'][0]['num_ignored'] == 2
    json.dumps(d)  # json-safe
    assert 'n/a' in r.table()


def test_non_divisible_split():
    # 7 classes, 3 groups: np.array_split -> sizes 3, 2, 2 (rarest first)
    counts = [6, 5, 4, 3, 2, 1, 0]
    aps = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    r = grouped_ap(aps, counts, num_groups=3)
    assert [g.keys for g in r.groups] == [[6, 5, 4], [3, 2], [1, 0]]
    assert r.groups[0].mAP == pytest.approx(0.5)
    assert r.groups[1].mAP == pytest.approx(0.25)
    assert r.groups[2].mAP == pytest.approx(0.05)
    # 12 classes, 5 groups -> 3, 3, 2, 2, 2
    r = grouped_ap(np.ones(12), np.arange(12), num_groups=5)
    assert [g.num_classes for g in r.groups] == [3, 3, 2, 2, 2]
    assert r.groups[2].keys == [6, 7]


def test_mapping_input_ties_by_key():
    counts = {30: 4, 10: 4, 20: 1, 40: 9}
    aps = {10: 0.2, 20: 0.4, 30: 0.6, 40: NAN}
    r = grouped_ap(aps, counts, num_groups=2)
    assert [g.keys for g in r.groups] == [[20, 10], [30, 40]]
    assert r.groups[0].mAP == pytest.approx(0.3)
    assert r.groups[1].mAP == pytest.approx(0.6)
    assert r.groups[1].num_ignored == 1
    recs = r.per_class()
    assert [x['key'] for x in recs] == [20, 10, 30, 40]
    assert recs[-1]['ap'] is None and recs[-1]['group'] == 1


def test_grouping_errors():
    with pytest.raises(ValueError, match='aligned'):
        grouped_ap([0.1, 0.2], [1, 2, 3])
    with pytest.raises(ValueError, match='cannot split 3 classes'):
        grouped_ap([0.1, 0.2, 0.3], [1, 2, 3], num_groups=4)
    with pytest.raises(ValueError, match='non-negative'):
        grouped_ap([0.1, 0.2], [1, -2], num_groups=1)
    with pytest.raises(TypeError, match='both'):
        grouped_ap({1: 0.1}, [1])
    with pytest.raises(ValueError, match='different classes'):
        grouped_ap({1: 0.1, 2: 0.2}, {1: 5, 3: 6}, num_groups=1)


def test_parse_iou_thrs():
    assert parse_iou_thrs(0.5).tolist() == [0.5]
    assert parse_iou_thrs('0.5').tolist() == [0.5]
    np.testing.assert_allclose(
        parse_iou_thrs('0.5:0.95'), np.linspace(0.5, 0.95, 10))
    with pytest.raises(ValueError):
        parse_iou_thrs('a:b')
    with pytest.raises(ValueError):
        parse_iou_thrs(1.5)


# ------------------------------------------------------- synthetic set
# json order of the categories is not id order (CocoDataset labels follow
# the json order); names are OpenImages-like
CATS = [dict(id=cid, name=f'class-{cid}', freebase_id=f'/m/{cid:04x}')
        for cid in (7, 2, 9, 4, 1, 10, 3, 8, 5, 6)]
CAT_IDS = [c['id'] for c in CATS]
NAMES = tuple(c['name'] for c in CATS)
# training instances per category id; ties 5/5 (ids 3, 8) and 40/40
TRAIN_COUNTS = {7: 40, 2: 3, 9: 120, 4: 5, 1: 0, 10: 40, 3: 5, 8: 12,
                5: 700, 6: 1}
# ascending count, ties by id: 1(0) 6(1) | 2(3) 3(5) | 4(5) 8(12) |
# 7(40) 10(40) | 9(120) 5(700)
BUCKETS = [[1, 6], [2, 3], [4, 8], [7, 10], [9, 5]]
IMG_W = IMG_H = 200


def _hex(i):
    return f'{i * 7919 + 4099:016x}'


def make_train(counts=TRAIN_COUNTS, cats=CATS):
    images, anns = [], []
    n = 0
    for cid, cnt in counts.items():
        for j in range(cnt):
            if n % 3 == 0:
                images.append(dict(id=_hex(len(images)), width=IMG_W,
                                   height=IMG_H,
                                   file_name=_hex(len(images)) + '.jpg'))
            anns.append(dict(id=n + 1, image_id=images[-1]['id'],
                             category_id=cid, bbox=[1, 1, 10, 10], area=100,
                             iscrowd=0))
            n += 1
    images.append(dict(id='ffffffffffffffff', width=IMG_W, height=IMG_H,
                       file_name='ffffffffffffffff.jpg'))  # empty image
    return dict(images=images, annotations=anns, categories=cats)


def make_val(skip_cats=(), image_labels=False):
    """Two images per category, 1 box each, plus a crowd (group-of) box on
    the first; categories in ``skip_cats`` get no GT."""
    images, anns = [], []
    for k, cid in enumerate(CAT_IDS):
        for j in range(2):
            img_id = f'val{k:02d}{j}'
            img = dict(id=img_id, width=IMG_W, height=IMG_H,
                       file_name=img_id + '.jpg')
            if image_labels:
                img['pos_category_ids'] = [cid]
                img['neg_category_ids'] = [CAT_IDS[(k + 1) % 10]]
            images.append(img)
            if cid in skip_cats:
                continue
            x = 10 + 20 * j
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=cid, bbox=[x, 20, 50, 60],
                             area=3000.0, iscrowd=0))
            if j == 0:
                anns.append(dict(id=len(anns) + 1, image_id=img_id,
                                 category_id=cid, bbox=[120, 100, 60, 60],
                                 area=3600.0, iscrowd=1))
    return dict(images=images, annotations=anns, categories=CATS)


def perfect_dets(val, drop=()):
    return [
        dict(image_id=a['image_id'], category_id=a['category_id'],
             bbox=list(a['bbox']), score=0.9)
        for a in val['annotations']
        if not a['iscrowd'] and a['category_id'] not in drop
    ]


def write(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)
    return str(path)


@pytest.fixture
def files(tmp_path):
    val = make_val()
    return dict(
        train=write(tmp_path / 'train.json', make_train()),
        val=write(tmp_path / 'val.json', val),
        val_data=val,
        tmp=tmp_path)


def quiet_coco(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(path)


def test_train_stats_with_string_image_ids(files):
    stats = load_train_stats(files['train'])
    got = dict(zip(stats.cat_ids.tolist(), stats.instance_count.tolist()))
    assert got == TRAIN_COUNTS
    assert stats.num_images == len(make_train()['images'])
    # second call: from the cache, same numbers
    again = load_train_stats(files['train'])
    assert again == stats


def test_per_class_ap_matches_pycocotools(files):
    """Random detections: per-class AP@0.5 and AP@[.5:.95] equal plain
    pycocotools COCOeval's (all areas, maxDets 300)."""
    rng = np.random.default_rng(0)
    val = files['val_data']
    dets = []
    for a in val['annotations']:
        for _ in range(3):
            x, y, w, h = a['bbox']
            jit = rng.uniform(-15, 15, 4)
            cid = a['category_id'] if rng.random() < 0.7 else int(
                rng.choice(CAT_IDS))
            dets.append(dict(image_id=a['image_id'], category_id=cid,
                             bbox=[x + jit[0], y + jit[1],
                                   max(w + jit[2], 1), max(h + jit[3], 1)],
                             score=float(np.round(rng.random(), 1))))
    gt = quiet_coco(files['val'])
    for thrs in (0.5, '0.5:0.95'):
        mine = coco_per_class_ap(gt, dets, thrs)
        with contextlib.redirect_stdout(io.StringIO()):
            ref_gt = COCO(files['val'])
            ev = COCOeval(ref_gt, ref_gt.loadRes(json.loads(json.dumps(dets))),
                          'bbox')
            ev.params.maxDets = [300]
            ev.params.iouThrs = parse_iou_thrs(thrs)
            ev.evaluate()
            ev.accumulate()
        prec = ev.eval['precision']
        for k, cid in enumerate(ev.params.catIds):
            p = prec[:, :, k, 0, -1]
            p = p[p > -1]
            assert mine[cid] == pytest.approx(float(p.mean()), abs=1e-12)
        assert 0 < np.nanmean(list(mine.values())) < 1


def test_per_class_ap_empty_and_no_gt(files):
    gt = quiet_coco(write(files['tmp'] / 'v2.json', make_val(skip_cats=(9, ))))
    aps = coco_per_class_ap(gt, [])
    assert math.isnan(aps[9])
    assert all(v == 0 for c, v in aps.items() if c != 9)


def test_image_level_labels_ignore_unverified(files):
    val = make_val(image_labels=True)
    path = write(files['tmp'] / 'val_labels.json', val)
    gt = quiet_coco(path)
    dets = perfect_dets(val)
    # a high-scoring false positive of category 7 in images where 7 is
    # neither a positive, a negative nor a box label
    img = next(i for i in val['images'] if 7 not in i['pos_category_ids'] +
               i['neg_category_ids'])
    dets.append(dict(image_id=img['id'], category_id=7,
                     bbox=[0, 0, 30, 30], score=0.99))
    assert coco_per_class_ap(gt, dets)[7] == pytest.approx(1.0)  # auto
    assert coco_per_class_ap(gt, dets, use_image_labels=False)[7] < 1.0
    # a negative label is verified: the false positive counts
    neg = next(i for i in val['images'] if 7 in i['neg_category_ids'])
    dets[-1]['image_id'] = neg['id']
    assert coco_per_class_ap(gt, dets)[7] < 1.0


# ---------------------------------------------------------------- metric
def build_metric(files, **kwargs):
    cfg = dict(type='GroupedAPMetric', ann_file=files['val'],
               train_ann_file=files['train'])
    cfg.update(kwargs)
    metric = METRICS.build(cfg)
    metric.dataset_meta = dict(classes=NAMES)
    return metric


def run_metric(metric, val, dets):
    label = {cid: i for i, cid in enumerate(CAT_IDS)}  # json order
    samples = []
    for img in val['images']:
        mine = [d for d in dets if d['image_id'] == img['id']]
        boxes = torch.tensor([[x, y, x + w, y + h]
                              for x, y, w, h in (d['bbox'] for d in mine)],
                             dtype=torch.float32).reshape(-1, 4)
        samples.append(dict(
            img_id=img['id'], ori_shape=(IMG_H, IMG_W),
            pred_instances=dict(
                bboxes=boxes,
                scores=torch.tensor([d['score'] for d in mine]),
                labels=torch.tensor([label[d['category_id']] for d in mine],
                                    dtype=torch.int64))))
    for i in range(0, len(samples), 4):
        metric.process({}, samples[i:i + 4])
    return metric.evaluate(len(samples))


def test_metric_perfect_and_one_class_removed(files):
    MMLogger.get_instance('test_grouped_ap')
    val = files['val_data']
    metric = build_metric(files, out_file=str(files['tmp'] / 'g.json'))
    res = run_metric(metric, val, perfect_dets(val))
    assert set(res) == {'grouped/mAP'} | {f'grouped/mAP{i}' for i in range(5)}
    assert all(v == pytest.approx(1.0) for v in res.values())
    assert '| mAP0 (rarest)' in metric.table
    assert metric.result.groups[0].keys == BUCKETS[0]
    saved = json.load(open(files['tmp'] / 'g.json'))
    assert saved['summary']['mAP'] == pytest.approx(1.0)

    for bucket, cats in enumerate(BUCKETS):
        drop = cats[1]  # its AP becomes 0: bucket mean 0.5, overall 0.9
        metric = build_metric(files)
        res = run_metric(metric, val, perfect_dets(val, drop=(drop, )))
        for i in range(5):
            want = 0.5 if i == bucket else 1.0
            assert res[f'grouped/mAP{i}'] == pytest.approx(want), (drop, i)
        assert res['grouped/mAP'] == pytest.approx(0.9)


def test_metric_with_dataset_labels(files):
    """Labels as the config's dataset (CocoJsonClassesDataset: classes from
    the json, ascending category id) assigns them map back to the right
    categories."""
    import mmlt  # noqa: F401
    from mmdet.registry import DATASETS
    ds = DATASETS.build(dict(
        type='CocoJsonClassesDataset', data_root=str(files['tmp']),
        ann_file='val.json', test_mode=True,
        data_prefix=dict(img='val/'),
        pipeline=[]))
    assert ds.metainfo['classes'] == NAMES
    metric = build_metric(files)
    metric.dataset_meta = ds.metainfo
    samples = []
    for info in ds:  # predict the GT (crowd boxes included as false ones)
        inst = info['instances']
        keep = [i for i in inst if not i['ignore_flag']]
        drop = [i for i in keep if ds.cat_ids[i['bbox_label']] == 10]
        keep = [i for i in keep if i not in drop]
        samples.append(dict(
            img_id=info['img_id'], ori_shape=(IMG_H, IMG_W),
            pred_instances=dict(
                bboxes=torch.tensor([i['bbox'] for i in keep],
                                    dtype=torch.float32).reshape(-1, 4),
                scores=torch.full((len(keep), ), 0.5),
                labels=torch.tensor([i['bbox_label'] for i in keep],
                                    dtype=torch.int64))))
    metric.process({}, samples)
    res = metric.evaluate(len(samples))
    # category 10 is in group 3 with category 7
    assert [res[f'grouped/mAP{i}'] for i in range(5)] == pytest.approx(
        [1, 1, 1, 0.5, 1])


def test_metric_ignored_class_and_empty_group(files):
    # categories 1 and 6 (rarest group) have no val GT
    path = write(files['tmp'] / 'v3.json', make_val(skip_cats=(1, 6)))
    val = json.load(open(path))
    metric = build_metric(dict(files, val=path), iou_thrs='0.5:0.95')
    res = run_metric(metric, val, perfect_dets(val, drop=(9, )))
    assert res['grouped/mAP0'] == -1.0  # no class with val GT
    assert res['grouped/mAP4'] == pytest.approx(0.5)
    assert res['grouped/mAP'] == pytest.approx(7 / 8)
    assert metric.result.groups[0].num_ignored == 2
    assert 'AP@[0.50:0.95]' in metric.table


def test_metric_errors(files):
    with pytest.raises(FileNotFoundError, match='missing_train.json'):
        build_metric(files, train_ann_file=str(files['tmp'] /
                                               'missing_train.json'))
    with pytest.raises(ValueError, match='train_ann_file'):
        build_metric(files, train_ann_file=None)
    cats = [dict(c) for c in CATS]
    cats[3]['name'] = 'renamed'
    bad = write(files['tmp'] / 'train_bad.json', make_train(cats=cats))
    with pytest.raises(AnnotationError) as e:
        build_metric(files, train_ann_file=bad)
    assert 'train_bad.json' in str(e.value) and 'val.json' in str(e.value)
    assert "'renamed'" in str(e.value)
    counts = {**TRAIN_COUNTS, 11: 4}
    extra = write(files['tmp'] / 'train_extra.json',
                  make_train(counts, CATS + [dict(id=11, name='x')]))
    with pytest.raises(AnnotationError, match='only in the training file'):
        build_metric(files, train_ann_file=extra)
    # format_only needs no training file
    build_metric(files, train_ann_file=None, format_only=True,
                 outfile_prefix=str(files['tmp'] / 'r'))
    # dataset classes that are not in the val json
    metric = build_metric(files)
    metric.dataset_meta = dict(classes=NAMES[:-1] + ('nope', ))
    with pytest.raises(AnnotationError, match="'nope'"):
        run_metric(metric, files['val_data'], [])


# ------------------------------------------------------------------ tool
def load_tool():
    spec = importlib.util.spec_from_file_location('oi_grouped_ap', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tool(files, capsys):
    tool = load_tool()
    val = files['val_data']
    res = write(files['tmp'] / 'r.bbox.json', perfect_dets(val, drop=(4, )))
    out = str(files['tmp'] / 'out' / 'g.json')
    assert tool.main([files['train'], files['val'], res, '--out', out]) == 0
    text = capsys.readouterr().out
    assert '| mAP2' in text and '| 50.0' in text and '| 90.0' in text
    d = json.load(open(out))
    assert d['summary'] == pytest.approx(
        dict(mAP=0.9, mAP0=1.0, mAP1=1.0, mAP2=0.5, mAP3=1.0, mAP4=1.0))
    assert d['groups'][2]['min_train_instances'] == 5
    assert {r['key']: r['ap'] for r in d['per_class']}[4] == 0.0
    assert d['iou_thrs'] == [0.5]


def test_tool_subprocess(files):
    import subprocess
    res = write(files['tmp'] / 'r.bbox.json', perfect_dets(files['val_data']))
    proc = subprocess.run(
        [sys.executable, TOOL, files['train'], files['val'], res,
         '--format', 'ascii', '--num-groups', '2'],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'mAP1 (most frequent)' in proc.stdout
    assert '100.0' in proc.stdout


def test_tool_errors(files, capsys):
    tool = load_tool()
    res = write(files['tmp'] / 'r.bbox.json', perfect_dets(files['val_data']))
    missing = str(files['tmp'] / 'nope_train.json')
    assert tool.main([missing, files['val'], res]) == 1
    assert 'nope_train.json' in capsys.readouterr().err
    cats = [dict(c) for c in CATS[:-1]]
    counts = {c['id']: 2 for c in cats}
    bad = write(files['tmp'] / 'train9.json', make_train(counts, cats))
    assert tool.main([bad, files['val'], res]) == 1
    err = capsys.readouterr().err
    assert 'train9.json' in err and 'only in the val file' in err
    # detections of an image that is not in the val set
    wrong = write(files['tmp'] / 'wrong.bbox.json', [
        dict(image_id='other', category_id=7, bbox=[0, 0, 5, 5], score=1.0)
    ])
    assert tool.main([files['train'], files['val'], wrong]) == 1
    assert 'not in the GT annotation file' in capsys.readouterr().err
    not_json = files['tmp'] / 'x.bbox.json'
    not_json.write_text('{oops')
    assert tool.main([files['train'], files['val'], str(not_json)]) == 1
    assert 'not a JSON file' in capsys.readouterr().err
