"""LongTailLVISMetric end to end against the original lvis-api."""
import copy
import importlib.util
import json
import math
import os.path as osp
import sys
import types

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.logging import MMLogger

import mmlt  # noqa: F401  (registers the metric)
from mmdet.registry import METRICS

_spec = importlib.util.spec_from_file_location(
    '_mmlt_lvis_eval_helpers',
    osp.join(osp.dirname(__file__), 'test_lvis_eval.py'))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf',
        'AR@300', 'ARs@300', 'ARm@300', 'ARl@300')
SORTED_IDS = sorted(H.CAT_IDS)
NAME = {c['id']: c['name'] for c in H.CATEGORIES}


def build_samples(gt, dets, label_of_cat):
    """mmdet-style data samples from xywh detections, and the detections as
    the metric must hand them to lvis-api (independently converted)."""
    samples, ref = [], []
    for img in gt['images']:
        mine = [d for d in dets if d['image_id'] == img['id']]
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in
                         (d['bbox'] for d in mine)],
                        dtype=np.float32).reshape(-1, 4)
        scores = np.array([d['score'] for d in mine], dtype=np.float32)
        masks = np.zeros((len(mine), H.IMG_H, H.IMG_W), dtype=bool)
        for i, (d, b) in enumerate(zip(mine, xyxy.tolist())):
            box = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            masks[i] = mask_utils.decode(H.box_to_rle(box)).astype(bool)
            rle = mask_utils.encode(np.asfortranarray(masks[i]))
            rle['counts'] = rle['counts'].decode()
            ref.append(
                dict(
                    image_id=img['id'],
                    category_id=d['category_id'],
                    bbox=box,
                    score=float(scores[i]),
                    segmentation=rle))
        samples.append(
            dict(
                img_id=img['id'],
                ori_shape=(H.IMG_H, H.IMG_W),
                pred_instances=dict(
                    bboxes=torch.from_numpy(xyxy),
                    scores=torch.from_numpy(scores),
                    labels=torch.tensor(
                        [label_of_cat[d['category_id']] for d in mine],
                        dtype=torch.int64),
                    masks=torch.from_numpy(masks))))
    return samples, ref


def run_metric(metric, samples, batch=2):
    for i in range(0, len(samples), batch):
        metric.process({}, samples[i:i + batch])
    return metric.evaluate(len(samples))


@pytest.fixture
def setup(tmp_path):
    gt = H.make_gt(5)  # every GT class, all area ranges
    return gt, H.write_gt(tmp_path, gt), H.make_dets(gt, 5)


@pytest.mark.parametrize('backend', ['fast', 'lvis'])
@pytest.mark.parametrize('with_meta', [True, False])
def test_metric_equals_lvis_api(tmp_path, monkeypatch, setup, with_meta,
                                backend):
    if backend == 'fast':
        pytest.importorskip('faster_coco_eval')
    gt, gt_file, dets = setup
    out_dir = tmp_path / 'out'
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            metric=['bbox', 'segm'],
            classwise=True,
            backend=backend,
            output_dir=str(out_dir)))
    assert metric.backend == backend
    if with_meta:
        # label order of a dataset that lists the classes reversed
        order = SORTED_IDS[::-1]
        metric.dataset_meta = dict(classes=[NAME[c] for c in order])
    else:
        # no names: label i is the i-th smallest category id
        order = SORTED_IDS
    samples, ref_dets = build_samples(gt, dets,
                                      {c: i
                                       for i, c in enumerate(order)})
    res = run_metric(metric, samples)

    assert set(res) == {
        f'lvis/{i}_{k}'
        for i in ('bbox', 'segm') for k in KEYS
    }
    per_class = json.loads((out_dir / 'per_class_ap.json').read_text())
    assert list(per_class) == ['bbox', 'segm']
    counts = {c['id']: c['instance_count'] for c in H.CATEGORIES}
    freq = {c['id']: c['frequency'] for c in H.CATEGORIES}
    for iou in ('bbox', 'segm'):
        ref_stats, ref_aps = H.lvis_api_reference(gt_file, ref_dets, iou,
                                                  monkeypatch)
        for k in KEYS:
            assert isinstance(res[f'lvis/{iou}_{k}'], float)
            assert res[f'lvis/{iou}_{k}'] == pytest.approx(
                float(ref_stats[k]), abs=1e-9), (iou, k)
        recs = per_class[iou]
        assert [r['cat_id'] for r in recs] == SORTED_IDS
        for r in recs:
            ref = ref_aps[r['cat_id']]
            if math.isnan(ref):
                assert r['ap'] is None
            else:
                assert r['ap'] == pytest.approx(ref, abs=1e-9)
            assert r['name'] == NAME[r['cat_id']]
            assert r['frequency'] == freq[r['cat_id']]
            assert r['train_instance_count'] == counts[r['cat_id']]
        png = out_dir / f'per_class_ap_{iou}.png'
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
        assert metric.classwise_tables[iou].count('a_rare') == 1

    table = metric.summary_table
    assert table.startswith('+')
    lines = table.splitlines()
    assert 'bbox' in lines[1] and 'segm' in lines[1]
    for k in KEYS:
        assert any(line.split('|')[1].strip() == k for line in lines[3:-1])
    # values x100 with one decimal
    ap_row = next(line for line in lines[3:-1]
                  if line.split('|')[1].strip() == 'AP')
    assert ap_row.split('|')[2].strip() == f'{res["lvis/bbox_AP"] * 100:.1f}'


def test_backend_choice(tmp_path, monkeypatch, setup):
    _, gt_file, _ = setup
    with pytest.raises(ValueError, match='backend'):
        METRICS.build(dict(type='LongTailLVISMetric', ann_file=gt_file,
                           backend='pycocotools'))
    # default: fast; without faster-coco-eval a clear error (and 'lvis'
    # still works)
    from mmlt.evaluation.metrics import lvis_metric
    monkeypatch.setattr(lvis_metric, 'faster_coco_eval_available',
                        lambda: False)
    with pytest.raises(ImportError, match='pip install faster-coco-eval'):
        METRICS.build(dict(type='LongTailLVISMetric', ann_file=gt_file))
    metric = METRICS.build(dict(type='LongTailLVISMetric', ann_file=gt_file,
                                backend='lvis'))
    assert metric.backend == 'lvis'


def test_missing_gt_fields(tmp_path, setup):
    gt, _, _ = setup
    bad = copy.deepcopy(gt)
    del bad['images'][0]['neg_category_ids']
    path = H.write_gt(tmp_path, bad, 'bad.json')
    with pytest.raises(ValueError, match='neg_category_ids') as e:
        METRICS.build(dict(type='LongTailLVISMetric', ann_file=path))
    assert path in str(e.value)
    bad = copy.deepcopy(gt)
    del bad['categories'][0]['frequency']
    path = H.write_gt(tmp_path, bad, 'bad2.json')
    with pytest.raises(ValueError, match='frequency'):
        METRICS.build(dict(type='LongTailLVISMetric', ann_file=path))
    # format_only (e.g. a test-dev submission) does not need them
    METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=path,
            format_only=True,
            outfile_prefix=str(tmp_path / 'r')))
    with pytest.raises(ValueError, match='ann_file'):
        METRICS.build(dict(type='LongTailLVISMetric'))


def test_no_predictions(tmp_path, setup):
    gt, gt_file, _ = setup
    samples, _ = build_samples(gt, [],
                               {c: i
                                for i, c in enumerate(SORTED_IDS)})
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            metric=['bbox', 'segm'],
            output_dir=str(tmp_path / 'o')))
    res = run_metric(metric, samples)
    assert res['lvis/bbox_AP'] == 0 and res['lvis/segm_APr'] == 0
    assert res['lvis/bbox_AR@300'] == 0


def test_markdown_items_and_logger_dir(tmp_path, setup):
    gt, gt_file, dets = setup
    samples, _ = build_samples(gt, dets,
                               {c: i
                                for i, c in enumerate(SORTED_IDS)})
    log_file = tmp_path / 'work' / '20240101_000000' / 'run.log'
    log_file.parent.mkdir(parents=True)
    MMLogger.get_instance('mmlt_test_with_file', log_file=str(log_file))
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            metric='bbox',
            metric_items=['AP', 'APr'],
            table_format='markdown',
            prefix='val'))
    res = run_metric(metric, samples)
    assert set(res) == {'val/bbox_AP', 'val/bbox_APr'}
    assert metric.summary_table.splitlines()[1].startswith('|--')
    assert (log_file.parent / 'per_class_ap.json').is_file()
    assert (log_file.parent / 'per_class_ap_bbox.png').is_file()

    # a logger without a log file: nothing is written
    MMLogger.get_instance('mmlt_test_no_file')
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            metric='bbox',
            outfile_prefix=str(tmp_path / 'res' / 'r')))
    (tmp_path / 'res').mkdir()
    run_metric(metric, samples)
    assert sorted(p.name for p in (tmp_path / 'res').iterdir()) == [
        'r.bbox.json', 'r.segm.json'
    ]
    with pytest.raises(KeyError, match='metric_items'):
        METRICS.build(
            dict(
                type='LongTailLVISMetric',
                ann_file=gt_file,
                metric_items=['mAP']))


def test_train_counts_from_class_stats(tmp_path, monkeypatch, setup):
    gt, gt_file, dets = setup
    fake = types.ModuleType('mmlt.datasets.class_stats')
    calls = []

    def get_class_stats(ann_file=None, stats_file=None):
        calls.append((ann_file, stats_file))
        return types.SimpleNamespace(
            cat_ids=SORTED_IDS,
            instance_count=np.arange(10, 10 + len(SORTED_IDS),
                                     dtype=np.int64))

    fake.get_class_stats = get_class_stats
    monkeypatch.setitem(sys.modules, 'mmlt.datasets.class_stats', fake)
    samples, _ = build_samples(gt, dets,
                               {c: i
                                for i, c in enumerate(SORTED_IDS)})
    per_class_file = tmp_path / 'pc' / 'ap.json'
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            stats_file='stats.json',
            per_class_file=str(per_class_file),
            save_plots=False))
    run_metric(metric, samples)
    run_metric(metric, samples)
    assert calls == [(None, 'stats.json')]  # loaded once
    recs = json.loads(per_class_file.read_text())['bbox']
    assert [r['train_instance_count'] for r in recs] == list(
        range(10, 10 + len(SORTED_IDS)))


# the GT json's category table (train counts) disagrees with its own
# annotations, which class_stats rightly warns about
@pytest.mark.filterwarnings('ignore::UserWarning')
def test_train_counts_from_train_json(tmp_path, setup):
    pytest.importorskip('mmlt.datasets.class_stats')
    gt, gt_file, dets = setup
    samples, _ = build_samples(gt, dets,
                               {c: i
                                for i, c in enumerate(SORTED_IDS)})
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            train_ann_file=gt_file,
            output_dir=str(tmp_path / 'o'),
            save_plots=False))
    run_metric(metric, samples)
    recs = json.loads((tmp_path / 'o' / 'per_class_ap.json').read_text())
    n = {c: 0 for c in SORTED_IDS}
    for a in gt['annotations']:
        n[a['category_id']] += 1
    assert {r['cat_id']: r['train_instance_count'] for r in recs['bbox']} == n


def test_proposal_recall_by_hand(tmp_path):
    gt = json.loads(open(H.hand_gt(tmp_path)).read())
    gt['annotations'].append(
        dict(
            id=2,
            image_id=1,
            category_id=2,
            bbox=[120, 120, 50, 50],
            area=2500,
            segmentation=[[120, 120, 170, 120, 170, 170, 120, 170]]))
    gt['images'][0]['neg_category_ids'] = []
    gt_file = H.write_gt(tmp_path, gt, 'hand2.json')
    # exact box on GT 1, IoU 0.72 on GT 2 (TP at 5 of 10 thresholds);
    # boxes given in low-to-high score order on purpose
    sample = dict(
        img_id=1,
        ori_shape=(200, 200),
        pred_instances=dict(
            bboxes=torch.tensor([[120., 120., 170., 156.], [0, 0, 100,
                                                            100]]),
            scores=torch.tensor([0.8, 0.9]),
            labels=torch.zeros(2, dtype=torch.int64)))
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            metric=['proposal', 'proposal_fast'],
            proposal_nums=(1, 2)))
    res = run_metric(metric, [sample])
    for kind in ('proposal', 'proposal_fast'):
        assert res[f'lvis/{kind}_AR@1'] == pytest.approx(0.5)
        assert res[f'lvis/{kind}_AR@2'] == pytest.approx(0.75)
    assert res['lvis/proposal_ARl@2'] == pytest.approx(1.0)
    assert res['lvis/proposal_ARm@2'] == pytest.approx(0.5)


def test_only_processed_imgs(tmp_path, monkeypatch, setup):
    gt, gt_file, dets = setup
    samples, ref_dets = build_samples(gt, dets,
                                      {c: i
                                       for i, c in enumerate(SORTED_IDS)})
    samples = samples[1:4]
    keep = {s['img_id'] for s in samples}
    ref_dets = [d for d in ref_dets if d['image_id'] in keep]
    metric = METRICS.build(
        dict(
            type='LongTailLVISMetric',
            ann_file=gt_file,
            metric='bbox',
            only_processed_imgs=True,
            save_plots=False))
    res = run_metric(metric, samples)
    ref, _ = H.lvis_api_reference(
        gt_file, ref_dets, 'bbox', monkeypatch, img_ids=sorted(keep))
    for k in KEYS:
        assert res[f'lvis/bbox_{k}'] == pytest.approx(
            float(ref[k]), abs=1e-9), k
