"""MultiLabelMetric: AP by hand and against sklearn, F1, splits, table."""
import json

import numpy as np
import pytest
import torch

import mmlt  # noqa: F401
from mmdet.registry import METRICS
from mmlt.evaluation.metrics.multilabel_metric import (average_precision,
                                                       f1_scores,
                                                       multilabel_summary)


def test_average_precision_by_hand():
    # hits at ranks 1 and 3: AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == \
        pytest.approx(0.5 + 0.5 * 2 / 3)
    # a tie is one threshold: (R, P) = (1/2, 1/2), (1, 2/3)
    assert average_precision([0.5, 0.5, 0.2], [1, 0, 1]) == pytest.approx(
        0.5 * 0.5 + 0.5 * 2 / 3)
    # the tie's order in the input does not matter
    assert average_precision([0.5, 0.5, 0.2], [0, 1, 1]) == pytest.approx(
        0.5 * 0.5 + 0.5 * 2 / 3)
    assert average_precision([0.1, 0.9], [0, 1]) == 1.0
    assert np.isnan(average_precision([0.1, 0.9], [0, 0]))


def test_f1_by_hand():
    pred = np.array([[1, 0], [1, 1], [0, 0]])
    gt = np.array([[1, 0], [0, 1], [1, 0]])
    f1 = f1_scores(pred, gt)
    # class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 1 -> 1; micro: tp 2,
    # fp 1, fn 1 -> 4 / 6
    assert f1['per_class_F1'].tolist() == pytest.approx([0.5, 1.0])
    assert f1['macro_F1'] == pytest.approx(0.75)
    assert f1['micro_F1'] == pytest.approx(4 / 6)


def test_against_sklearn_on_random_data():
    skm = pytest.importorskip('sklearn.metrics')
    rng = np.random.default_rng(0)
    for trial in range(5):
        n, c = 60, 7
        gt = (rng.random((n, c)) < 0.25).astype(int)
        gt[0] = 1  # every class has a positive
        # rounded scores produce ties
        scores = np.round(rng.random((n, c)) + 0.4 * gt, 1)
        ours = [average_precision(scores[:, k], gt[:, k]) for k in range(c)]
        ref = skm.average_precision_score(gt, scores, average=None)
        assert np.allclose(ours, ref, atol=1e-12)
        out = multilabel_summary(scores, gt, thr=0.5)
        assert out['mAP'] == pytest.approx(
            skm.average_precision_score(gt, scores, average='macro'))
        pred = scores > 0.5
        assert out['micro_F1'] == pytest.approx(
            skm.f1_score(gt, pred, average='micro'))
        assert out['macro_F1'] == pytest.approx(
            skm.f1_score(gt, pred, average='macro', zero_division=0))


def _results(scores, gt):
    return [dict(pred_score=torch.tensor(s), gt_label=torch.tensor(
        np.flatnonzero(g))) for s, g in zip(scores, gt)]


def test_metric_with_split_file(tmp_path):
    split_file = tmp_path / 'class_split.json'
    # the original's key 'middle' is accepted for 'medium'
    split_file.write_text(json.dumps(dict(head=[0], middle=[1], tail=[2])))
    metric = METRICS.build(
        dict(type='MultiLabelMetric', class_split_file=str(split_file),
             table_format='markdown', output_dir=str(tmp_path)))
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    scores = np.array([[0.9, 0.2, 0.6], [0.8, 0.7, 0.1], [0.1, 0.9, 0.7],
                       [0.3, 0.4, 0.2]], np.float32)
    gt = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    metric.process({}, _results(scores, gt))
    out = metric.evaluate(4)
    aps = [average_precision(scores[:, k], gt[:, k]) for k in range(3)]
    assert out['multilabel/mAP'] == pytest.approx(np.mean(aps))
    assert out['multilabel/mAP_head'] == pytest.approx(aps[0])
    assert out['multilabel/mAP_medium'] == pytest.approx(aps[1])
    assert out['multilabel/mAP_tail'] == pytest.approx(aps[2])
    assert '| mAP ' in metric.summary_table
    assert 'head (1)' in metric.summary_table
    saved = json.loads((tmp_path / 'per_class_ap.json').read_text())
    assert saved['classes'] == ['a', 'b', 'c']
    assert saved['split'] == ['head', 'medium', 'tail']


def test_metric_split_from_training_counts(tmp_path):
    freq = tmp_path / 'class_freq.json'
    freq.write_text(json.dumps(dict(class_freq=[150, 40, 5],
                                    neg_class_freq=[50, 160, 195])))
    metric = METRICS.build(
        dict(type='MultiLabelMetric', train_freq_file=str(freq)))
    split, counts = metric.class_split(3)
    assert split.tolist() == ['head', 'medium', 'tail']
    assert counts.tolist() == [150, 40, 5]
    # a class without a positive test image is left out of the means
    metric.process({}, _results(np.array([[0.9, 0.2, 0.1],
                                          [0.1, 0.8, 0.3]], np.float32),
                                np.array([[1, 0, 0], [0, 1, 0]])))
    out = metric.evaluate(2)
    assert out['multilabel/mAP'] == 1.0
    assert np.isnan(out['multilabel/mAP_tail'])
    # no split source: overall numbers only
    plain = METRICS.build(dict(type='MultiLabelMetric'))
    plain.process({}, _results(np.array([[0.9, 0.2]], np.float32),
                               np.array([[1, 0]])))
    assert set(plain.evaluate(1)) == {'multilabel/mAP',
                                      'multilabel/micro_F1',
                                      'multilabel/macro_F1'}
