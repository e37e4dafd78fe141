"""SoftmaxFocalLoss: value and gradient vs the hand formula
FL = -alpha_y (1 - p_y)^gamma log p_y, gamma = 0 is CE, alpha variants,
avg_factor normalisation."""
import pytest
import torch

import mmlt  # noqa: F401
from mmdet.registry import MODELS


def focal(**kw):
    return MODELS.build(dict(type='SoftmaxFocalLoss', **kw))


def test_hand_values():
    # two RoIs, 3 logits; p = softmax([0, ln 3, 0]) = [.2, .6, .2]
    z = torch.tensor([[0., torch.log(torch.tensor(3.)), 0.]] * 2)
    labels = torch.tensor([1, 2])
    fl1 = -(1 - 0.6)**2 * torch.log(torch.tensor(0.6))
    fl2 = -(1 - 0.2)**2 * torch.log(torch.tensor(0.2))
    loss = focal(gamma=2.0)(z, labels)
    assert loss.item() == pytest.approx(((fl1 + fl2) / 2).item(), rel=1e-6)
    loss = focal(gamma=2.0)(z, labels, torch.tensor([1., 0.]),
                            avg_factor=4.)
    assert loss.item() == pytest.approx((fl1 / 4).item(), rel=1e-6)


@pytest.mark.parametrize('gamma', [0.0, 0.5, 2.0])
def test_value_and_gradient_vs_formula(gamma):
    torch.manual_seed(0)
    z = torch.randn(7, 4, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 3, 0, 2])
    zz = z.clone().float().requires_grad_()
    loss = focal(gamma=gamma)(zz, labels, avg_factor=7.)
    loss.backward()
    p = torch.exp(z) / torch.exp(z).sum(1, keepdim=True)
    py = p[torch.arange(7), labels]
    expected = (-(1 - py)**gamma * torch.log(py)).sum() / 7
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # dFL/dz_j = [gamma (1-p_y)^(gamma-1) p_y log p_y - (1-p_y)^gamma]
    #            * (delta_jy - p_j)
    coef = gamma * (1 - py)**(gamma - 1) * py * torch.log(py) - (1 - py)**gamma
    onehot = torch.nn.functional.one_hot(labels, 4).double()
    grad = coef[:, None] * (onehot - p) / 7
    assert torch.allclose(zz.grad.double(), grad, atol=1e-6)
    if gamma == 0:
        ce = torch.nn.functional.cross_entropy(z, labels)
        assert loss.item() == pytest.approx(ce.item(), rel=1e-5)


def test_alpha_scalar_and_list():
    torch.manual_seed(0)
    z = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 2])  # class 2 = background
    per = focal(gamma=2.0)(z, labels, reduction_override='none')
    a = focal(gamma=2.0, alpha=0.25)(z, labels, reduction_override='none')
    assert torch.allclose(a, per * torch.tensor([.25, .25, .75, .75]))
    a = focal(gamma=2.0, alpha=[1., 2., 3.], num_classes=2)(
        z, labels, reduction_override='none')
    assert torch.allclose(a, per * torch.tensor([1., 2., 3., 3.]))


def test_confident_rois_are_finite():
    z = torch.tensor([[100., 0., 0.]], requires_grad=True)
    loss = focal(gamma=0.5)(z, torch.tensor([0]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_errors_and_head():
    with pytest.raises(ValueError, match='columns, expected'):
        focal(num_classes=3)(torch.randn(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='sigmoid'):
        focal(use_sigmoid=True)
    with pytest.raises(ValueError, match='alpha has 2 entries'):
        focal(alpha=[1., 2.], num_classes=2)
    head = MODELS.build(
        dict(type='Shared2FCBBoxHead', in_channels=2, fc_out_channels=4,
             roi_feat_size=2, num_classes=2,
             loss_cls=dict(type='SoftmaxFocalLoss', num_classes=2)))
    assert head.fc_cls.out_features == 3 and not head.custom_activation
