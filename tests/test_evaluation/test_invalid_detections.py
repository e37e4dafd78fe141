"""Invalid detections (NaN/inf scores or boxes, negative extents, unknown
ids, wrong mask sizes) at every evaluation entry point: an error naming the
count and the cause by default, never a number; with 'drop' the same result
as evaluating the valid subset alone (lvis-api / the same evaluator on the
pre-filtered input), with a logged count.

Random detections with injected faults, fixed seeds; the sets are the
small synthetic LVIS (6 images, 7 classes) and OpenImages-style (20
images, 10 classes) sets of test_lvis_eval.py / test_grouped_ap.py.
"""
import collections
import copy
import importlib.util
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from lvis import LVIS

import mmlt  # noqa: F401  (registers the metrics)
from mmdet.registry import METRICS
from mmlt.evaluation import validate as V
from mmlt.evaluation.lvis_eval import run_lvis_eval
from mmlt.evaluation.metrics.grouped_ap import coco_per_class_ap
from mmlt.evaluation.validate import (InvalidDetectionsError,
                                      find_invalid_preds,
                                      find_invalid_results)

HERE = osp.dirname(osp.abspath(__file__))


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f'_mmlt_invalid_{name}', osp.join(HERE, f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


H = _load('test_lvis_eval')  # LVIS GT / detections
M = _load('test_lvis_metric')  # mmdet-format samples
G = _load('test_grouped_ap')  # OpenImages-style set, tool path
NAN, INF = float('nan'), float('inf')
needs_fast = pytest.mark.skipif(
    importlib.util.find_spec('faster_coco_eval') is None,
    reason='faster-coco-eval not installed')


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))


@pytest.fixture
def logged(monkeypatch):
    """Messages of validate's print_log (the logged drop counts)."""
    msgs = []
    monkeypatch.setattr(V, 'print_log',
                        lambda msg, **kwargs: msgs.append(msg))
    return msgs


@pytest.fixture(scope='module')
def lvis_set(tmp_path_factory):
    gt = H.make_gt(5)
    path = H.write_gt(tmp_path_factory.mktemp('lvis'), gt)
    return gt, path, LVIS(path)


# ------------------------------------------------------------ injection
JSON_KINDS = ('nan_score', 'inf_score', 'nan_box', 'inf_box', 'neg_wh',
              'unknown_img', 'unknown_cat')
SEGM_KINDS = ('mask_size', 'bad_rle')
REASON_OF = {
    'nan_score': V.NONFINITE_SCORE, 'inf_score': V.NONFINITE_SCORE,
    'nan_box': V.NONFINITE_BOX, 'inf_box': V.NONFINITE_BOX,
    'neg_wh': V.BAD_XYWH, 'unknown_img': V.UNKNOWN_IMAGE,
    'unknown_cat': V.UNKNOWN_CAT, 'mask_size': V.MASK_SIZE,
    'bad_rle': V.BAD_MASK
}


def corrupt_json(dets, seed, kinds=JSON_KINDS, frac=0.2):
    """Copies of ``dets`` with faults at random positions.

    Returns (dets, bad indices, {index: kind})."""
    rng = np.random.default_rng(seed)
    dets = copy.deepcopy(dets)
    n = len(dets)
    k = int(rng.integers(1, max(2, int(frac * n)) + 1))
    idx = sorted(int(i) for i in rng.choice(n, k, replace=False))
    kind_of = {}
    for i in idx:
        kind = kinds[int(rng.integers(len(kinds)))]
        d = dets[i]
        sign = float(rng.choice([1, -1]))
        if kind == 'nan_score':
            d['score'] = NAN
        elif kind == 'inf_score':
            d['score'] = sign * INF
        elif kind == 'nan_box':
            d['bbox'][int(rng.integers(4))] = NAN
        elif kind == 'inf_box':
            d['bbox'][int(rng.integers(4))] = sign * INF
        elif kind == 'neg_wh':
            j = 2 + int(rng.integers(2))
            d['bbox'][j] = -d['bbox'][j] - 0.5
        elif kind == 'unknown_img':
            d['image_id'] = 10**6 + i
        elif kind == 'unknown_cat':
            d['category_id'] = 999
        elif kind == 'mask_size':  # a valid RLE of another image size
            d['segmentation'] = dict(
                size=[H.IMG_H + 8, H.IMG_W], counts=d['segmentation']
                ['counts'])
        elif kind == 'bad_rle':
            d['segmentation'] = dict(size=[H.IMG_H, H.IMG_W])
        kind_of[i] = kind
    return dets, idx, kind_of


def valid_subset(dets, bad):
    bad = set(bad)
    return [copy.deepcopy(d) for i, d in enumerate(dets) if i not in bad]


def assert_error(excinfo, num_bad, num_total, cause='diverged'):
    msg = str(excinfo.value)
    assert f'{num_bad} of {num_total} detections' in msg, msg
    assert cause in msg, msg
    assert "='drop'" in msg or '--drop-invalid' in msg, msg


def assert_dropped(logged, num_bad, num_total):
    assert any(f'dropped {num_bad} of {num_total} detections' in m
               for m in logged), logged


# --------------------------------------------------------- the checker
@pytest.mark.parametrize('seed', range(40))
def test_checker_flags_exactly_the_injected(lvis_set, seed):
    """Every injected fault is flagged with its reason, nothing else is;
    zero-area finite boxes (a detector's clamped box) are valid."""
    gt, _, lvis = lvis_set
    clean = H.make_dets(gt, seed)
    rng = np.random.default_rng(seed)
    for d in clean[::7]:  # zero width or height, but finite
        d['bbox'][2 + int(rng.integers(2))] = 0.0
    kinds = JSON_KINDS + (SEGM_KINDS if seed % 2 else ())
    dets, bad, kind_of = corrupt_json(clean, seed, kinds)
    sizes = {i: (img['height'], img['width']) for i, img in lvis.imgs.items()}
    report = find_invalid_results(dets, lvis.imgs, lvis.cats, sizes)
    assert np.flatnonzero(report.invalid).tolist() == bad
    want = collections.Counter(REASON_OF[k] for k in kind_of.values())
    assert {r: n for r, n in report.reasons.items() if n} == dict(want)
    bad_imgs = {dets[i]['image_id'] for i in bad}
    assert set(report.bad_images) == bad_imgs
    assert report.summary().startswith(
        f'{len(bad)} of {len(dets)} detections (in {len(bad_imgs)} of the '
        f"{len({d['image_id'] for d in dets})} images with detections")
    # the same boxes as mmdet xyxy predictions, one image
    boxes = np.array([d['bbox'] for d in dets], dtype=np.float64)
    boxes[:, 2:] += boxes[:, :2]
    pred = dict(img_id=1, bboxes=boxes,
                scores=np.array([d['score'] for d in dets]),
                labels=np.zeros(len(dets), dtype=np.int64))
    rep = find_invalid_preds([pred], num_classes=1)
    box_bad = [i for i in bad if kind_of[i] in ('nan_score', 'inf_score',
                                                'nan_box', 'inf_box',
                                                'neg_wh')]
    # xywh with w = -inf gives x2 = -inf: non-finite, also flagged
    assert np.flatnonzero(rep.invalid).tolist() == box_bad


def test_checker_malformed_input_is_a_format_error():
    base = dict(image_id=1, category_id=1, bbox=[1, 2, 3, 4], score=0.5)
    for broken, what in (({k: v for k, v in base.items() if k != 'score'},
                          "has no 'score'"),
                         (dict(base, bbox=[1, 2, 3]), 'not 4 numbers'),
                         (dict(base, score='high'), 'not a number'),
                         ({k: v for k, v in base.items() if k != 'bbox'},
                          "neither 'bbox' nor 'segmentation'")):
        for policy in ('error', 'drop'):
            with pytest.raises(ValueError, match='detection #1') as e:
                V.validate_results([base, broken], policy)
            assert what in str(e.value)
            assert not isinstance(e.value, InvalidDetectionsError)
    with pytest.raises(ValueError, match="'error' or 'drop'"):
        V.validate_results([base], 'ignore')
    # a null score is a non-finite score, not a format error
    rep = find_invalid_results([base, dict(base, score=None)])
    assert rep.invalid.tolist() == [False, True]
    # polygons are valid segmentations; an RLE needs counts
    rep = find_invalid_results([
        dict(base, segmentation=[[0, 0, 4, 0, 4, 4]]),
        dict(base, segmentation=dict(size=[5, 5]))
    ])
    assert rep.invalid.tolist() == [False, True]


def test_checker_preds_labels_masks():
    """mmdet predictions: labels outside [0, C) (a negative label would
    silently index ``cat_ids`` from the end), masks of another size."""
    boxes = np.array([[0, 0, 10, 10], [5, 5, 5, 9], [9, 0, 3, 4],
                      [0, 0, 1, 1]], np.float32)  # #1 zero width: valid
    pred = dict(img_id=7, bboxes=torch.from_numpy(boxes),
                scores=torch.tensor([0.9, 0.8, 0.7, 0.6]),
                labels=torch.tensor([0, 3, 1, -1]))
    rep = find_invalid_preds([pred], num_classes=3, img_ids={7})
    assert rep.invalid.tolist() == [False, True, True, True]
    assert rep.reasons[V.BAD_LABEL] == 2 and rep.reasons[V.BAD_XYXY] == 1
    rep = find_invalid_preds([pred], num_classes=4, img_ids={8})
    assert rep.reasons[V.UNKNOWN_IMAGE] == 4
    rle = dict(size=[20, 30], counts=b'abc')
    masked = dict(pred, labels=torch.tensor([0, 1, 1, 2]),
                  masks=[rle, dict(rle, size=[30, 20]), rle, {'size': 1}])
    rep = find_invalid_preds([masked], 3, img_sizes={7: (20, 30)})
    assert rep.invalid.tolist() == [False, True, True, True]
    assert rep.reasons[V.MASK_SIZE] == 1 and rep.reasons[V.BAD_MASK] == 1
    arr = dict(masked, masks=np.zeros((4, 21, 30), bool))
    rep = find_invalid_preds([arr], 3, img_sizes={7: (20, 30)})
    assert rep.reasons[V.MASK_SIZE] == 4
    # a separate mask score (e.g. Mask Scoring R-CNN) is checked as well
    ms = dict(masked, mask_scores=torch.tensor([NAN, 0.8, 0.7, 0.6]))
    rep = find_invalid_preds([ms], 3, img_sizes={7: (20, 30)})
    assert rep.invalid.tolist() == [True, True, True, True]
    assert rep.reasons[V.NONFINITE_SCORE] == 1
    kept = V.validate_preds([masked], 'drop', num_classes=3,
                            img_sizes={7: (20, 30)})
    assert kept[0]['scores'].tolist() == pytest.approx([0.9])
    assert kept[0]['masks'] == [rle]


# ------------------------------------------------- LVIS, both backends
def _run(backend, lvis, dets, iou, policy='error'):
    if backend == 'fast':
        from mmlt.evaluation.fast_lvis_eval import run_fast_lvis_eval
        fn = run_fast_lvis_eval
    else:
        fn = run_lvis_eval
    return fn(lvis, dets, iou, invalid_detections=policy)[0]


@pytest.mark.parametrize('backend', ['lvis', pytest.param(
    'fast', marks=needs_fast)])
@pytest.mark.parametrize('seed', range(8))
def test_lvis_eval_error_and_drop(lvis_set, monkeypatch, logged, backend,
                                  seed):
    gt, gt_file, lvis = lvis_set
    iou = 'segm' if seed % 2 else 'bbox'
    kinds = JSON_KINDS + (SEGM_KINDS if iou == 'segm' else ())
    dets, bad, _ = corrupt_json(H.make_dets(gt, seed), 100 + seed, kinds)
    with pytest.raises(InvalidDetectionsError) as e:
        _run(backend, lvis, dets, iou)
    assert_error(e, len(bad), len(dets), cause='Likely cause')
    valid = valid_subset(dets, bad)
    stats = _run(backend, lvis, dets, iou, 'drop')
    assert_dropped(logged, len(bad), len(dets))
    assert stats == _run(backend, lvis, valid, iou)
    assert 0 < stats['AP'] < 1
    if backend == 'lvis':
        ref, _ = H.lvis_api_reference(gt_file, valid, iou, monkeypatch)
        assert stats == pytest.approx(ref, abs=1e-12)


def test_lvis_all_nan_scores_never_give_ap(lvis_set):
    """The issue's case: all scores NaN gave AP 1.0 (lvis) / a C++ error
    (fast); now mmlt's own error on both backends, also from a file."""
    gt, _, lvis = lvis_set
    dets = H.make_dets(gt, 0, with_segm=False)
    for d in dets:
        d['score'] = NAN
    for backend in ('lvis', 'fast'):
        if backend == 'fast' and importlib.util.find_spec(
                'faster_coco_eval') is None:
            continue
        with pytest.raises(InvalidDetectionsError) as e:
            _run(backend, lvis, dets, 'bbox')
        assert_error(e, len(dets), len(dets))
        assert 'check the training log' in str(e.value)


def test_lvis_results_file_named(lvis_set, tmp_path):
    gt, _, lvis = lvis_set
    dets = H.make_dets(gt, 1, with_segm=False)
    dets[3]['bbox'][0] = INF
    path = tmp_path / 'results.bbox.json'
    path.write_text(json.dumps(dets))  # writes Infinity, read back as inf
    with pytest.raises(InvalidDetectionsError) as e:
        run_lvis_eval(lvis, str(path), 'bbox')
    assert str(path) in str(e.value)
    assert_error(e, 1, len(dets))


def test_zero_area_boxes_are_valid(lvis_set, monkeypatch):
    gt, gt_file, lvis = lvis_set
    dets = H.make_dets(gt, 3, with_segm=False)
    for d in dets[::3]:
        d['bbox'][2] = 0.0  # a box clamped to the image border
    stats = run_lvis_eval(lvis, dets, 'bbox')[0]
    ref, _ = H.lvis_api_reference(gt_file, dets, 'bbox', monkeypatch)
    assert stats == pytest.approx(ref, abs=1e-12)


# ------------------------------------------------ LongTailLVISMetric
def corrupt_samples(samples, seed, num_classes, frac=0.15):
    """Faults in mmdet pred_instances; returns (faulty samples, clean
    samples with the faulty detections removed, keep flags in order)."""
    rng = np.random.default_rng(seed)
    bad_s, clean_s, keep_all = [], [], []
    for s in samples:
        p = {k: v.clone() for k, v in s['pred_instances'].items()}
        n = len(p['scores'])
        keep = np.ones(n, dtype=bool)
        for i in range(n):
            if rng.random() >= frac:
                continue
            keep[i] = False
            kind = int(rng.integers(7))
            if kind == 0:
                p['scores'][i] = NAN
            elif kind == 1:
                p['scores'][i] = float(rng.choice([INF, -INF]))
            elif kind == 2:
                p['bboxes'][i, int(rng.integers(4))] = NAN
            elif kind == 3:
                p['bboxes'][i, int(rng.integers(4))] = INF
            elif kind == 4:  # x2 < x1 or y2 < y1
                j = int(rng.integers(2))
                p['bboxes'][i, j] = p['bboxes'][i, j + 2] + 1
            elif kind == 5:
                p['labels'][i] = num_classes
            else:
                p['labels'][i] = -1
        if s is samples[-1] and seed % 2:  # masks not of the image size
            p['masks'] = torch.zeros((n, H.IMG_H + 2, H.IMG_W),
                                     dtype=torch.bool)
            keep[:] = False
        bad_s.append(dict(s, pred_instances=p))
        k = torch.from_numpy(keep)
        clean_s.append(dict(s, pred_instances={
            key: v[k] for key, v in s['pred_instances'].items()}))
        keep_all.append(keep)
    return bad_s, clean_s, np.concatenate(keep_all)


def _metric(gt_file, backend, **kw):
    return METRICS.build(dict(type='LongTailLVISMetric', ann_file=gt_file,
                              metric=['bbox', 'segm'], backend=backend,
                              save_plots=False, **kw))


@pytest.mark.parametrize('backend', ['lvis', pytest.param(
    'fast', marks=needs_fast)])
@pytest.mark.parametrize('seed', range(4))
def test_lvis_metric_error_and_drop(lvis_set, monkeypatch, logged, backend,
                                    seed):
    gt, gt_file, _ = lvis_set
    label_of = {c: i for i, c in enumerate(M.SORTED_IDS)}
    samples, ref = M.build_samples(gt, H.make_dets(gt, seed), label_of)
    bad, clean, keep = corrupt_samples(samples, seed, len(label_of))
    n, n_bad = len(keep), int((~keep).sum())
    assert n_bad > 0
    with pytest.raises(InvalidDetectionsError) as e:
        M.run_metric(_metric(gt_file, backend), bad)
    assert_error(e, n_bad, n)
    assert 'invalid_detections=drop' in str(e.value)
    got = M.run_metric(_metric(gt_file, backend,
                               invalid_detections='drop'), bad)
    assert_dropped(logged, n_bad, n)
    want = M.run_metric(_metric(gt_file, backend), clean)
    assert got == want
    if backend == 'lvis' and seed == 0:  # and lvis-api on the valid subset
        valid = [r for r, k in zip(ref, keep) if k]
        for iou in ('bbox', 'segm'):
            ref_stats, _ = H.lvis_api_reference(gt_file, valid, iou,
                                                monkeypatch)
            for k, v in ref_stats.items():
                assert got[f'lvis/{iou}_{k}'] == pytest.approx(v, abs=1e-12)


@pytest.mark.parametrize('backend', ['lvis', pytest.param(
    'fast', marks=needs_fast)])
def test_lvis_metric_all_nan(lvis_set, tmp_path, backend):
    gt, gt_file, _ = lvis_set
    label_of = {c: i for i, c in enumerate(M.SORTED_IDS)}
    samples, _ = M.build_samples(gt, H.make_dets(gt, 2), label_of)
    for s in samples:
        s['pred_instances']['scores'][:] = NAN
    n = sum(len(s['pred_instances']['scores']) for s in samples)
    with pytest.raises(InvalidDetectionsError) as e:
        M.run_metric(_metric(gt_file, backend), samples)
    assert_error(e, n, n)
    # format_only does not write NaN into a submission file either
    with pytest.raises(InvalidDetectionsError):
        M.run_metric(_metric(gt_file, backend, format_only=True,
                             outfile_prefix=str(tmp_path / 'r')), samples)
    assert not (tmp_path / 'r.bbox.json').exists()
    with pytest.raises(ValueError, match="'error' or 'drop'"):
        _metric(gt_file, backend, invalid_detections='skip')


# --------------------------------------------- grouped AP (OpenImages)
def _oi_dets(val, seed):
    rng = np.random.default_rng(seed)
    dets = []
    for a in val['annotations']:
        for _ in range(2):
            x, y, w, h = a['bbox']
            j = rng.uniform(-12, 12, 4)
            dets.append(dict(
                image_id=a['image_id'],
                category_id=a['category_id'] if rng.random() < 0.7 else int(
                    rng.choice(G.CAT_IDS)),
                bbox=[x + j[0], y + j[1], max(w + j[2], 1), max(h + j[3], 1)],
                score=float(np.round(rng.random(), 1))))
    return dets


@pytest.mark.parametrize('seed', range(8))
def test_coco_per_class_ap_error_and_drop(tmp_path, logged, seed):
    val = G.make_val(image_labels=bool(seed % 2))
    coco = G.quiet_coco(G.write(tmp_path / 'val.json', val))
    dets, bad, _ = corrupt_json(_oi_dets(val, seed), seed)
    with pytest.raises(InvalidDetectionsError) as e:
        coco_per_class_ap(coco, dets, '0.5:0.95')
    assert_error(e, len(bad), len(dets), cause='Likely cause')
    got = coco_per_class_ap(coco, dets, '0.5:0.95',
                            invalid_detections='drop')
    assert_dropped(logged, len(bad), len(dets))
    want = coco_per_class_ap(coco, valid_subset(dets, bad), '0.5:0.95')
    assert got == pytest.approx(want, abs=1e-12, nan_ok=True)


@pytest.mark.parametrize('seed', range(3))
def test_grouped_ap_metric_error_and_drop(tmp_path, logged, seed):
    files = dict(train=G.write(tmp_path / 'train.json', G.make_train()),
                 val=G.write(tmp_path / 'val.json', G.make_val()),
                 tmp=tmp_path)
    val = G.make_val()
    # faults that survive the json -> tensor conversion of run_metric
    kinds = ('nan_score', 'inf_score', 'nan_box', 'inf_box', 'neg_wh')
    dets, bad, _ = corrupt_json(_oi_dets(val, seed), seed, kinds)
    with pytest.raises(InvalidDetectionsError) as e:
        G.run_metric(G.build_metric(files), val, dets)
    assert_error(e, len(bad), len(dets), cause='Likely cause')
    got = G.run_metric(G.build_metric(files, invalid_detections='drop'), val,
                       dets)
    assert_dropped(logged, len(bad), len(dets))
    want = G.run_metric(G.build_metric(files), val, valid_subset(dets, bad))
    assert got == want
    assert 0 < got['grouped/mAP'] < 1


def test_grouped_tool_all_nan_exits_nonzero(tmp_path):
    """The issue's case: all-NaN scores printed mAP 100.0 with exit 0."""
    train = G.write(tmp_path / 'train.json', G.make_train())
    val = G.make_val()
    val_file = G.write(tmp_path / 'val.json', val)
    dets = G.perfect_dets(val)
    for d in dets:
        d['score'] = NAN
    res = G.write(tmp_path / 'r.bbox.json', dets)
    proc = subprocess.run([sys.executable, G.TOOL, train, val_file, res],
                          capture_output=True, text=True, cwd=G.ROOT,
                          timeout=300)
    assert proc.returncode == 1
    assert '100.0' not in proc.stdout and 'mAP' not in proc.stdout
    err = proc.stderr
    assert f'{len(dets)} of {len(dets)} detections' in err, err
    assert 'diverged' in err and '--drop-invalid' in err and res in err


def test_grouped_tool_drop_invalid(tmp_path, logged, capsys):
    tool = G.load_tool()
    train = G.write(tmp_path / 'train.json', G.make_train())
    val = G.make_val()
    val_file = G.write(tmp_path / 'val.json', val)
    dets, bad, _ = corrupt_json(_oi_dets(val, 5), 5)
    res = G.write(tmp_path / 'r.bbox.json', dets)
    ok = G.write(tmp_path / 'ok.bbox.json', valid_subset(dets, bad))
    assert tool.main([train, val_file, res]) == 1
    assert f'{len(bad)} of {len(dets)} detections' in capsys.readouterr().err
    out1, out2 = str(tmp_path / 'a.json'), str(tmp_path / 'b.json')
    assert tool.main([train, val_file, res, '--drop-invalid', '--out',
                      out1]) == 0
    assert_dropped(logged, len(bad), len(dets))
    assert tool.main([train, val_file, ok, '--out', out2]) == 0
    a, b = json.load(open(out1)), json.load(open(out2))
    assert a['summary'] == b['summary'] and a['per_class'] == b['per_class']


# ---------------------------------------------------- multi-label metric
def _ml(scores, gt, **kw):
    metric = METRICS.build(dict(type='MultiLabelMetric', **kw))
    metric.process({}, [
        dict(pred_score=torch.tensor(s), gt_label=torch.tensor(
            np.flatnonzero(g))) for s, g in zip(scores, gt)
    ])
    return metric.evaluate(len(scores))


@pytest.mark.parametrize('seed', range(6))
def test_multilabel_error_and_drop(logged, seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((12, 5)).astype(np.float32)
    gt = (rng.random((12, 5)) < 0.4).astype(int)
    gt[0] = 1  # every class has a positive
    bad_rows = sorted(rng.choice(np.arange(1, 12), 1 + seed % 3,
                                 replace=False).tolist())
    for r in bad_rows:
        scores[r, rng.integers(5)] = float(rng.choice([NAN, INF, -INF]))
    with pytest.raises(InvalidDetectionsError) as e:
        _ml(scores, gt)
    msg = str(e.value)
    assert f'{len(bad_rows)} of 12 images' in msg and 'diverged' in msg
    assert f"image {bad_rows[0]}:" in msg and "invalid_scores='drop'" in msg
    got = _ml(scores, gt, invalid_scores='drop')
    assert any(f'dropped {len(bad_rows)} of 12 images' in m for m in logged)
    keep = np.setdiff1d(np.arange(12), bad_rows)
    assert got == _ml(scores[keep], gt[keep])
    # against sklearn on the valid rows
    from sklearn.metrics import average_precision_score
    ref = np.mean([average_precision_score(gt[keep, c], scores[keep, c])
                   for c in range(5) if gt[keep, c].any()])
    assert got['multilabel/mAP'] == pytest.approx(ref, abs=1e-6)


def test_multilabel_all_nan_and_bad_option():
    scores = np.full((3, 2), NAN, np.float32)
    gt = np.eye(3, 2, dtype=int)
    for policy in ('error', 'drop'):
        with pytest.raises(InvalidDetectionsError, match='3 of 3 images'):
            _ml(scores, gt, invalid_scores=policy)
    with pytest.raises(ValueError, match="'error' or 'drop'"):
        METRICS.build(dict(type='MultiLabelMetric', invalid_scores='keep'))
    assert not math.isnan(_ml(np.eye(3, 2, dtype=np.float32),
                              gt)['multilabel/mAP'])
