"""LWSLinear: forward = x (s * W)^T + b, stage-1 nn.Linear checkpoints load
(scales -> 1), only s gets a gradient when W, b are frozen, and mmdet's bbox
head builds it through cls_predictor_cfg."""
import pytest
import torch
import torch.nn as nn

import mmlt  # noqa: F401
from mmdet.registry import MODELS
from mmlt.models.layers import LWSLinear


def test_forward_hand_values():
    layer = LWSLinear(2, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1., 2.], [3., 4.], [5., 6.]]))
        layer.bias.copy_(torch.tensor([0.5, -1., 2.]))
        layer.scales.copy_(torch.tensor([[2.], [0.5], [0.]]))
    x = torch.tensor([[1., 1.], [2., -1.]])
    # row j: s_j * (w_j . x) + b_j (bias not scaled)
    expected = torch.tensor([[2 * 3 + 0.5, 0.5 * 7 - 1, 0 * 11 + 2],
                             [2 * 0 + 0.5, 0.5 * 2 - 1, 0 * 4 + 2]])
    assert torch.allclose(layer(x), expected)


def test_init_equals_linear():
    torch.manual_seed(0)
    layer = LWSLinear(4, 5)
    assert torch.equal(layer.scales, torch.ones(5, 1))
    x = torch.randn(3, 4)
    assert torch.allclose(layer(x), x @ layer.weight.t() + layer.bias)
    layer.reset_parameters()
    assert torch.equal(layer.scales, torch.ones(5, 1))


@pytest.mark.parametrize('strict', [True, False])
def test_loads_stage1_linear_state_dict(strict):
    torch.manual_seed(0)
    lin = nn.Linear(4, 5)
    layer = LWSLinear(4, 5)
    with torch.no_grad():
        layer.scales.fill_(3.)  # must be reset to 1 by the load
    result = layer.load_state_dict(lin.state_dict(), strict=strict)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(layer.weight, lin.weight)
    assert torch.equal(layer.bias, lin.bias)
    assert torch.equal(layer.scales, torch.ones(5, 1))
    x = torch.randn(2, 4)
    assert torch.allclose(layer(x), lin(x))


def test_state_dict_roundtrip_and_legacy_name():
    layer = LWSLinear(3, 2)
    with torch.no_grad():
        layer.scales.copy_(torch.tensor([[0.25], [4.]]))
    other = LWSLinear(3, 2)
    other.load_state_dict(layer.state_dict())
    assert torch.equal(other.scales, layer.scales)
    # eqlv2 repo checkpoints call the scales `weight_scaler`
    legacy = dict(layer.state_dict())
    legacy['weight_scaler'] = legacy.pop('scales')
    third = LWSLinear(3, 2)
    third.load_state_dict(legacy)
    assert torch.equal(third.scales, layer.scales)


def test_gradient_only_on_scales():
    torch.manual_seed(0)
    layer = LWSLinear(3, 4)
    layer.weight.requires_grad_(False)
    layer.bias.requires_grad_(False)
    x = torch.randn(5, 3)
    g = torch.randn(5, 4)
    (layer(x) * g).sum().backward()
    assert layer.weight.grad is None and layer.bias.grad is None
    # d/ds_j sum_i g_ij * (s_j w_j . x_i) = sum_i g_ij (w_j . x_i)
    expected = (g * (x @ layer.weight.t())).sum(0)[:, None]
    assert torch.allclose(layer.scales.grad, expected, atol=1e-6)


def test_built_by_bbox_head_and_loads_linear_head():
    cfg = dict(type='Shared2FCBBoxHead', in_channels=4, fc_out_channels=8,
               roi_feat_size=3, num_classes=5)
    plain = MODELS.build(cfg)
    lws = MODELS.build(dict(cfg, cls_predictor_cfg=dict(type='LWSLinear')))
    assert isinstance(lws.fc_cls, LWSLinear)
    assert lws.fc_cls.weight.shape == (6, 8)
    assert lws.fc_cls.scales.shape == (6, 1)
    lws.load_state_dict(plain.state_dict(), strict=True)
    torch.manual_seed(0)
    x = torch.randn(3, 4, 3, 3)
    plain.eval(), lws.eval()
    with torch.no_grad():
        assert torch.allclose(plain(x)[0], lws(x)[0])
