"""FCNNormMaskHead / CosineConv1x1: logits vs the hand cosine formula,
invariance to per-pixel feature scale, build from config, loss with mmdet's
mask targets, predict, class-agnostic, checkpoint compatibility."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import mmlt  # noqa: F401
from mmdet.models.task_modules.assigners import AssignResult
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks
from mmlt.models.roi_heads.norm_mask_head import (CosineConv1x1,
                                                  FCNNormMaskHead)


def hand_logits(x, w, b, s):
    """logit[c, p] = s * <x_p / |x_p|, w_c / |w_c|> + b_c by explicit loops."""
    x, w, b = x.detach(), w.detach(), b.detach()
    _, ch, h, wd = x.shape
    out = torch.zeros(1, w.shape[0], h, wd, dtype=torch.float64)
    for c in range(w.shape[0]):
        wc = w[c].double()
        wn = (wc * wc).sum().sqrt()
        for i in range(h):
            for j in range(wd):
                xp = x[0, :, i, j].double()
                xn = (xp * xp).sum().sqrt()
                dot = sum(float(xp[k] * wc[k]) for k in range(ch))
                out[0, c, i, j] = s * dot / float(xn * wn) + float(b[c])
    return out


def test_cosine_conv_hand_values():
    torch.manual_seed(0)
    conv = CosineConv1x1(3, 2, scale=20.0)
    with torch.no_grad():
        conv.weight.copy_(
            torch.tensor([[1., 2., 2.], [0., -3., 4.]]).view(2, 3, 1, 1))
        conv.bias.copy_(torch.tensor([0.5, -1.0]))
    x = torch.tensor([[[[1., 0.], [2., -1.]], [[0., 3.], [2., 0.5]],
                       [[0., 4.], [1., 2.]]]])
    out = conv(x)
    expected = hand_logits(x, conv.weight.view(2, 3), conv.bias, 20.0)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=0)
    # pixel (0, 0) = e_0: 20 * w_c[0] / |w_c| + b_c = 20/3 + .5, 0 - 1
    assert out[0, 0, 0, 0].item() == pytest.approx(20 / 3 + 0.5, abs=1e-5)
    assert out[0, 1, 0, 0].item() == pytest.approx(-1.0, abs=1e-6)
    # logits bounded by s + b
    assert (out - conv.bias.view(1, 2, 1, 1)).abs().max() <= 20 + 1e-5


def test_invariant_to_feature_and_weight_scale():
    torch.manual_seed(1)
    conv = CosineConv1x1(8, 3, scale=20.0)
    x = torch.randn(2, 8, 5, 5)
    k = torch.rand(2, 1, 5, 5) * 100 + 1e-3  # a positive factor per pixel
    torch.testing.assert_close(conv(x * k), conv(x), atol=1e-4, rtol=1e-5)
    ref = conv(x)
    with torch.no_grad():
        conv.weight.mul_(torch.tensor([3., 0.01, 50.]).view(3, 1, 1, 1))
    torch.testing.assert_close(conv(x), ref, atol=1e-4, rtol=1e-5)
    # an all-zero pixel (ReLU output) gives the bias, not NaN
    x[:, :, 0, 0] = 0
    out = conv(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, :, 0, 0],
                               conv.bias.expand(2, 3).detach())


def mask_head_cfg(**kw):
    cfg = dict(
        type='FCNNormMaskHead',
        num_convs=2,
        in_channels=4,
        conv_out_channels=6,
        roi_feat_size=4,
        num_classes=3)
    cfg.update(kw)
    return cfg


def test_build_forward_and_structure():
    head = MODELS.build(mask_head_cfg())
    assert isinstance(head, FCNNormMaskHead)
    assert isinstance(head.conv_logits, CosineConv1x1)
    assert head.conv_logits.scale == 20.0
    assert head.conv_logits.weight.shape == (3, 6, 1, 1)
    head.init_weights()
    assert head.conv_logits.bias.abs().max() == 0
    x = torch.randn(5, 4, 4, 4)
    out = head(x)
    assert out.shape == (5, 3, 8, 8)
    # logits = the cosine layer on mmdet's feature path (convs, deconv,
    # relu), computed by hand
    feat = x
    for conv in head.convs:
        feat = conv(feat)
    feat = head.relu(head.upsample(feat))
    w = head.conv_logits.weight.view(3, 6)
    cos = torch.einsum('nchw,kc->nkhw',
                       feat / feat.norm(dim=1, keepdim=True).clamp(1e-12),
                       w / w.norm(dim=1, keepdim=True))
    torch.testing.assert_close(
        out,
        20 * cos + head.conv_logits.bias.view(1, 3, 1, 1),
        atol=1e-4,
        rtol=1e-5)
    agn = MODELS.build(mask_head_cfg(class_agnostic=True, scale=10.0))
    assert agn(x).shape == (5, 1, 8, 8)
    assert agn.conv_logits.scale == 10.0


def test_fcn_mask_head_checkpoint_loads_strictly():
    plain = MODELS.build(mask_head_cfg(type='FCNMaskHead'))
    normed = MODELS.build(mask_head_cfg())
    normed.load_state_dict(plain.state_dict(), strict=True)
    assert torch.equal(normed.conv_logits.weight, plain.conv_logits.weight)


def test_errors():
    with pytest.raises(ValueError, match='mask_head.predictor_cfg'):
        MODELS.build(mask_head_cfg(predictor_cfg=dict(type='NormedConv2d')))
    with pytest.raises(ValueError, match='mask_head.scale'):
        MODELS.build(mask_head_cfg(scale=0))


def _sampling_result(seed=0):
    g = torch.Generator().manual_seed(seed)
    gt_bboxes = torch.tensor([[2., 2., 14., 12.], [8., 6., 20., 20.]])
    priors = gt_bboxes.repeat(2, 1) + torch.rand(4, 4, generator=g)
    gt_inds = torch.tensor([1, 2, 1, 2])
    labels = torch.tensor([2, 0, 2, 0])
    assign = AssignResult(2, gt_inds, torch.ones(4), labels)
    return SamplingResult(
        torch.tensor([0, 1, 3]), torch.tensor([2]), priors, gt_bboxes, assign,
        torch.zeros(4, dtype=torch.uint8))


def test_loss_with_mmdet_mask_targets_and_predict():
    torch.manual_seed(0)
    head = MODELS.build(mask_head_cfg())
    head.init_weights()
    masks = torch.zeros(2, 24, 24, dtype=torch.uint8)
    masks[0, 2:12, 2:14] = 1
    masks[1, 6:20, 8:20] = 1
    gt = InstanceData(
        bboxes=torch.tensor([[2., 2., 14., 12.], [8., 6., 20., 20.]]),
        labels=torch.tensor([2, 0]),
        masks=BitmapMasks(masks.numpy(), 24, 24))
    res = _sampling_result()
    x = torch.randn(3, 4, 4, 4)
    mask_preds = head(x)
    out = head.loss_and_target(mask_preds, [res], [gt],
                               ConfigDict(mask_size=8))
    assert out['mask_targets'].shape == (3, 8, 8)
    loss = out['loss_mask']['loss_mask']
    # mmdet's mask CE: BCE of each positive's GT-class channel
    idx = torch.arange(3)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        mask_preds[idx, res.pos_gt_labels], out['mask_targets'])
    torch.testing.assert_close(loss.reshape(()), expected)  # mmdet: [1]
    loss.backward()
    assert head.conv_logits.weight.grad.abs().sum() > 0
    assert head.convs[0].conv.weight.grad.abs().sum() > 0
    # predict: mmdet's paste-back path, unchanged
    det = InstanceData(
        bboxes=torch.tensor([[2., 2., 14., 12.]]),
        labels=torch.tensor([2]),
        scores=torch.tensor([0.9]))
    with torch.no_grad():
        pred = head(x[:1])
    results = head.predict_by_feat(
        (pred, ), [det],
        [dict(img_shape=(24, 24), ori_shape=(24, 24), scale_factor=(1., 1.))],
        ConfigDict(mask_thr_binary=0.5))
    assert results[0].masks.shape == (1, 24, 24)
