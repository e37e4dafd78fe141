"""EquilibriumLoss: equals CE when all m are equal, value and gradient vs
P_y = m_y e^{z_y} / sum_j m_j e^{z_j}, margins, weight / avg_factor,
tracker state in the head's state dict, plain softmax at inference."""
import io

import pytest
import torch
import torch.nn.functional as F

import mmlt  # noqa: F401
from mmdet.registry import MODELS
from mmlt.models.losses import EquilibriumLoss

C = 4


def hand_loss(z, labels, m, r, denom):
    """-log(m_y e^{z_y} / sum_j m_j e^{z_j}) in float64, weighted sum / D."""
    z, m = z.double(), m.double()
    num = m[labels] * torch.exp(z[torch.arange(len(labels)), labels])
    den = (m[None, :] * torch.exp(z)).sum(1)
    return (r.double() * -torch.log(num / den)).sum() / denom


def hand_grad(z, labels, m, r, denom):
    """dL/dz_ij = r_i (P_ij - [j = y_i]) / D, P_ij = m_j e^{z_ij} / sum."""
    w = m.double()[None, :] * torch.exp(z.double())
    p = w / w.sum(1, keepdim=True)
    onehot = F.one_hot(labels, z.shape[1]).double()
    return r.double()[:, None] * (p - onehot) / denom


def make_inputs(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, C + 1, generator=g) * 2
    labels = torch.tensor([0, 1, 2, 3, 4, 4, 1])[:n]
    return z, labels


def set_m(loss, values):
    loss.tracker.mean_score.copy_(torch.tensor(values, dtype=torch.float64))


def test_build_and_equal_m_is_cross_entropy():
    loss = MODELS.build(dict(type='EquilibriumLoss', num_classes=C))
    assert isinstance(loss, EquilibriumLoss)
    ce = MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=False))
    z, labels = make_inputs()
    r = torch.tensor([1., 0., 1., 1., 2., 1., 1.])
    # initial state: m = 0.01 everywhere (incl. bg)
    torch.testing.assert_close(
        loss(z, labels, r, avg_factor=6.), ce(z, labels, r, avg_factor=6.))
    set_m(loss, [0.3] * (C + 1))
    torch.testing.assert_close(loss(z, labels), F.cross_entropy(z, labels))


def test_value_and_gradient_vs_explicit_formula():
    loss = EquilibriumLoss(num_classes=C, loss_weight=1.5)
    m = [0.5, 0.02, 0.1, 0.3, 0.01]
    set_m(loss, m)
    m = torch.tensor(m)
    z, labels = make_inputs()
    r = torch.tensor([1., 1., 0., 1., 1., 0.5, 1.])
    zz = z.clone().requires_grad_()
    out = loss(zz, labels, r, avg_factor=5.)
    expected = 1.5 * hand_loss(z, labels, m, r, 5.)
    assert out.item() == pytest.approx(expected.item(), rel=1e-6)
    out.backward()
    torch.testing.assert_close(
        zz.grad.double(),
        1.5 * hand_grad(z, labels, m, r, 5.),
        atol=1e-6,
        rtol=1e-5)


def test_margin_lower_mean_score_gives_larger_loss():
    loss = EquilibriumLoss(num_classes=C)
    z = torch.tensor([[1.0, 0.5, -0.2, 0.3, 0.0]])
    label = torch.tensor([1])
    values = []
    for m_y in (0.8, 0.2, 0.05, 0.01):
        set_m(loss, [0.2, m_y, 0.2, 0.2, 0.01])
        values.append(loss(z, label).item())
    assert values == sorted(values) and values[0] < values[-1]
    # = CE with the pairwise margins log(m_j / m_y) added to competitors
    m = torch.tensor([0.2, 0.01, 0.2, 0.2, 0.01])
    margin = torch.log(m / m[1])
    assert values[-1] == pytest.approx(
        F.cross_entropy(z + margin, label).item(), rel=1e-6)


def test_weight_avg_factor_and_reductions():
    loss = EquilibriumLoss(num_classes=C)
    set_m(loss, [0.5, 0.02, 0.1, 0.3, 0.01])
    m = loss.mean_score.float()
    z, labels = make_inputs()
    per = loss(z, labels, reduction_override='none')
    assert per.shape == (7, )
    r = torch.tensor([0., 1., 1., 0., 1., 1., 1.])
    # no avg_factor: mean over all N rows (mmdet), zero-weight rows count
    assert loss(z, labels, r).item() == pytest.approx(
        hand_loss(z, labels, m, r, 7.).item(), rel=1e-6)
    assert loss(
        z, labels, r, avg_factor=5).item() == pytest.approx(
            hand_loss(z, labels, m, r, 5.).item(), rel=1e-6)
    assert loss(z, labels, r, avg_factor=torch.tensor(5.)).item() == \
        pytest.approx(hand_loss(z, labels, m, r, 5.).item(), rel=1e-6)
    assert loss(z, labels, r.view(-1, 1), reduction_override='sum').item() \
        == pytest.approx((per * r).sum().item(), rel=1e-6)
    # label -100 is ignored as in mmdet's CrossEntropyLoss
    ign = labels.clone()
    ign[0] = -100
    assert loss(z, ign, reduction_override='none')[0].item() == 0.0
    # empty batch: finite 0
    assert loss(z[:0], labels[:0], avg_factor=1.).item() == 0.0


def test_zero_mean_score_is_finite():
    loss = EquilibriumLoss(num_classes=C)
    set_m(loss, [0.0, 0.1, 0.1, 0.1, 0.01])
    z, labels = make_inputs()
    zz = z.clone().requires_grad_()
    out = loss(zz, labels)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(zz.grad).all()


def test_errors():
    with pytest.raises(ValueError, match='use_sigmoid'):
        EquilibriumLoss(num_classes=C, use_sigmoid=True)
    with pytest.raises(ValueError, match='loss_cls.alpha'):
        EquilibriumLoss(num_classes=C, alpha=1.5)
    loss = EquilibriumLoss(num_classes=C)
    with pytest.raises(ValueError, match='loss_cls.num_classes'):
        loss(torch.randn(3, C + 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='labels must lie'):
        loss(torch.randn(2, C + 1), torch.tensor([0, C + 1]))


def test_update_then_state_dict_round_trip():
    loss = EquilibriumLoss(num_classes=C, alpha=0.5)
    loss.update_mean_score(
        torch.tensor([2, 2]), torch.tensor([0.3, 0.5], dtype=torch.float64))
    # alpha^2 = .25: .25 * .01 + .75 * .4
    assert loss.mean_score[2].item() == pytest.approx(0.3025, abs=1e-15)
    sd = loss.state_dict()
    assert list(sd) == ['tracker.mean_score']
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    fresh = EquilibriumLoss(num_classes=C, alpha=0.5)
    fresh.load_state_dict(torch.load(buf))
    z, labels = make_inputs()
    assert torch.equal(fresh.mean_score, loss.mean_score)
    assert fresh(z, labels).item() == loss(z, labels).item()


def test_in_bbox_head_softmax_inference_and_checkpoint_key():
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=2,
            fc_out_channels=4,
            roi_feat_size=2,
            num_classes=C,
            loss_cls=dict(type='EquilibriumLoss', num_classes=C)))
    assert head.fc_cls.out_features == C + 1
    assert not head.custom_cls_channels and not head.custom_activation
    assert 'loss_cls.tracker.mean_score' in head.state_dict()
    set_m(head.loss_cls, [0.5, 0.02, 0.1, 0.3, 0.01])
    cls_score = torch.randn(3, C + 1)
    labels = torch.tensor([0, C, 2])
    losses = head.loss(cls_score, None, torch.zeros(3, 5), labels,
                       torch.ones(3), torch.zeros(3, 4), torch.zeros(3, 4))
    assert losses['loss_cls'].item() == pytest.approx(
        hand_loss(cls_score, labels, head.loss_cls.mean_score, torch.ones(3),
                  3.).item(),
        rel=1e-6)
    # inference: plain softmax of z, no mean-score term
    rois = torch.tensor([[0., 1., 1., 5., 5.], [0., 2., 2., 6., 7.],
                         [0., 0., 0., 3., 3.]])
    res = head.predict_by_feat(
        rois=(rois, ),
        cls_scores=(cls_score, ),
        bbox_preds=(torch.zeros(3, 4 * C), ),
        batch_img_metas=[dict(img_shape=(10, 10), scale_factor=(1., 1.))],
        rcnn_test_cfg=None)[0]
    torch.testing.assert_close(res.scores, torch.softmax(cls_score, 1))
