"""ClassWeightedCrossEntropyLoss: inverse-frequency and effective-number
weights on hand count tables, loss value and gradient vs the hand formula
(normalised by avg_factor), statistics files and error messages."""
import math

import numpy as np
import pytest
import torch

import mmlt  # noqa: F401
from mmdet.registry import MODELS
from mmlt.datasets.class_stats import ClassStats
from mmlt.models.losses.reweight_ce import class_weights_from_counts


def test_inverse_weights_hand_table():
    # u = 1/n = [1, .25, .01, .001], mean = 1.261 / 4
    w = class_weights_from_counts([1, 4, 100, 1000], 'inverse')
    assert np.allclose(w, [4 / 1.261, 1 / 1.261, 0.1, 0.1, 1.0])


def test_inverse_weights_clip_max():
    # u = [1, .01 x 5], mean = 1.05 / 6: 6 / 1.05 = 5.71 -> 5, .057 -> .1
    w = class_weights_from_counts([1, 100, 100, 100, 100, 100], 'inverse')
    assert np.allclose(w, [5.0] + [0.1] * 5 + [1.0])


def test_effective_weights_hand_table():
    # beta = .5: (1 - b) / (1 - b^n) = 1, 2/3, 4/7 for n = 1, 2, 3;
    # mean = 47/63
    w = class_weights_from_counts([1, 2, 3], 'effective', beta=0.5)
    assert np.allclose(w, [63 / 47, 42 / 47, 36 / 47, 1.0])


def test_effective_weights_beta_0999_formula():
    n = np.array([1., 5., 30., 200., 3000.])
    e = (1 - 0.999) / (1 - 0.999**n)
    expected = np.clip(e / e.mean(), 0.1, 5)
    w = class_weights_from_counts(n, 'effective', beta=0.999)
    assert np.allclose(w[:-1], expected) and w[-1] == 1.0


def test_zero_count_class_gets_clip_max():
    # u = [inf, 1, .25]: mean over the seen classes = .625
    with pytest.warns(UserWarning, match='1 of 3 classes have no training'):
        w = class_weights_from_counts([0, 1, 4], 'inverse')
    assert np.allclose(w, [5.0, 1.6, 0.4, 1.0])
    with pytest.warns(UserWarning):
        w = class_weights_from_counts([0, 1, 4], 'effective', beta=0.5,
                                      clip=(0.1, 3.0))
    assert w[0] == 3.0


@pytest.mark.parametrize('counts, match', [
    ([0, 0], 'every class has 0'),
    ([1, -1], 'finite and >= 0'),
    ([], 'empty'),
])
def test_bad_counts(counts, match):
    with pytest.raises(ValueError, match=match):
        class_weights_from_counts(counts)


def hand_loss(z, labels, w, r, denom):
    logp = z - torch.log(torch.exp(z).sum(1, keepdim=True))
    ce = -logp[torch.arange(len(labels)), labels]
    return (r * w[labels] * ce).sum() / denom


def test_loss_value_and_gradient_vs_hand():
    counts = [1, 4, 100, 1000]
    loss_fn = MODELS.build(
        dict(type='ClassWeightedCrossEntropyLoss', class_counts=counts))
    w = torch.tensor([4 / 1.261, 1 / 1.261, 0.1, 0.1, 1.0])
    torch.manual_seed(0)
    z = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 4, 4])
    r = torch.tensor([1., 1., 0., 1., 1., 1.])
    loss = loss_fn(z.float(), labels, r, avg_factor=5.)
    expected = hand_loss(z.detach(), labels, w.double(), r.double(), 5.)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # gradient: r_i w_{y_i} (p_i - onehot_i) / D
    z32 = z.detach().float().requires_grad_()
    loss_fn(z32, labels, r, avg_factor=5.).backward()
    p = torch.softmax(z.detach(), 1)
    onehot = torch.nn.functional.one_hot(labels, 5).double()
    grad = (r.double() * w.double()[labels])[:, None] * (p - onehot) / 5.
    assert torch.allclose(z32.grad.double(), grad, atol=1e-6)
    # no avg_factor: mean over N; 'none': per-RoI values
    loss_n = loss_fn(z.float(), labels)
    assert loss_n.item() == pytest.approx(
        hand_loss(z.detach(), labels, w.double(), torch.ones(6).double(),
                  6.).item(), rel=1e-5)
    per = loss_fn(z.float(), labels, reduction_override='none')
    assert per.shape == (6, )


def test_stats_file_and_head(tmp_path):
    stats = ClassStats([1, 2, 3, 4], list('abcd'), [1, 2, 50, 500],
                       [1, 4, 100, 1000], 600, list('rrcf'))
    path = str(tmp_path / 'stats.json')
    stats.save(path)
    loss_fn = MODELS.build(
        dict(type='ClassWeightedCrossEntropyLoss', stats_file=path,
             num_classes=4))
    assert torch.allclose(loss_fn.class_weight,
                          torch.tensor([4 / 1.261, 1 / 1.261, 0.1, 0.1, 1.]))
    head = MODELS.build(
        dict(type='Shared2FCBBoxHead', in_channels=2, fc_out_channels=4,
             roi_feat_size=2, num_classes=4,
             loss_cls=dict(type='ClassWeightedCrossEntropyLoss',
                           stats_file=path)))
    assert head.fc_cls.out_features == 5  # softmax head, C + 1
    assert not head.custom_activation  # inference = plain softmax
    cls_score = torch.randn(3, 5)
    losses = head.loss(cls_score, None, torch.zeros(3, 5),
                       torch.tensor([0, 4, 2]), torch.ones(3),
                       torch.zeros(3, 4), torch.zeros(3, 4))
    assert 'loss_cls' in losses and 'acc' in losses


def test_errors():
    with pytest.raises(ValueError, match='num_classes=3'):
        MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                          class_counts=[1, 2], num_classes=3))
    loss_fn = MODELS.build(
        dict(type='ClassWeightedCrossEntropyLoss', class_counts=[1, 2]))
    with pytest.raises(ValueError, match='expected \\[N, 3\\]'):
        loss_fn(torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='needs class frequencies'):
        MODELS.build(dict(type='ClassWeightedCrossEntropyLoss'))
    with pytest.raises(FileNotFoundError, match='does_not_exist'):
        MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                          ann_file='does_not_exist.json'))
    with pytest.raises(ValueError, match='every class has 0'):
        MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                          class_counts=[0, 0]))
    with pytest.raises(ValueError, match='weighting'):
        MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                          class_counts=[1], weighting='sqrt'))
    assert math.isfinite(loss_fn(torch.randn(2, 3), torch.tensor([0, 2])))
