"""NCMBBoxHead: cosine scores against hand-made means, invalid classes never
win, fc/conv features, regression branch unchanged, buffers in the state
dict, and the accumulator's means on hand-made features."""
import math

import pytest
import torch

import mmlt  # noqa: F401
from mmdet.registry import MODELS
from mmlt.models.roi_heads.ncm_bbox_head import (INVALID_LOGIT,
                                                 ClassMeanAccumulator)

C = 3  # 3 fg classes + bg
BASE = dict(in_channels=2, fc_out_channels=4, roi_feat_size=2, num_classes=C)


def build(feature='fc', scale=20.0):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='NCMBBoxHead', feature=feature, scale=scale, **BASE))


def test_cosine_scores_hand_values():
    head = build(scale=10.0)
    means = torch.tensor([[1., 0., 0., 0.], [0., 2., 0., 0.],
                          [1., 1., 0., 0.], [0., 0., 0., 3.]])
    head.set_class_means(means, torch.tensor([5, 1, 2, 7]))
    f = torch.tensor([[2., 0., 0., 0.], [1., 1., 0., 0.], [0., 0., 1., 1.]])
    r = 1 / math.sqrt(2)
    cos = torch.tensor([[1., 0., r, 0.], [r, r, 1., 0.], [0., 0., 0., r]])
    assert torch.allclose(head.ncm_logits(f), 10 * cos, atol=1e-6)


def test_class_without_mean_never_wins():
    head = build()
    means = torch.tensor([[1., 0., 0., 0.], [0., 0., 0., 0.],
                          [0., 1., 0., 0.], [0., 0., 1., 0.]])
    head.set_class_means(means, torch.tensor([1, 0, 1, 1]))
    logits = head.ncm_logits(torch.rand(6, 4))
    assert (logits[:, 1] == INVALID_LOGIT).all()
    p = logits.softmax(1)
    assert (p[:, 1] == 0).all()  # exactly 0: never passes score_thr 0
    assert torch.allclose(p.sum(1), torch.ones(6))


def test_forward_fc_feature_and_regression_unchanged():
    head = build('fc').eval()
    plain = MODELS.build(dict(type='Shared2FCBBoxHead', **BASE)).eval()
    # stage-1 checkpoint loads; only the NCM buffers are missing
    res = head.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(res.missing_keys) == ['class_counts', 'class_means']
    assert not res.unexpected_keys
    torch.manual_seed(1)
    x = torch.randn(5, 2, 2, 2)
    with torch.no_grad():
        h = x.flatten(1)
        for fc in plain.shared_fcs:  # the fc feature by hand
            h = torch.relu(fc(h))
        means = torch.randn(C + 1, 4)
        head.set_class_means(means, torch.ones(C + 1, dtype=torch.long))
        cls_score, bbox_pred = head(x)
        _, plain_pred = plain(x)
    expected = 20 * torch.nn.functional.cosine_similarity(
        h[:, None], means[None], dim=2)
    assert torch.allclose(cls_score, expected, atol=1e-5)
    assert torch.allclose(bbox_pred, plain_pred)


def test_forward_conv_feature_is_spatial_mean():
    head = build('conv').eval()
    assert head.feat_dim == 2 and head.class_means.shape == (C + 1, 2)
    x = torch.zeros(2, 2, 2, 2)
    x[0, 0] = torch.tensor([[1., 3.], [2., 2.]])  # mean 2
    x[0, 1] = 0.
    x[1, 1] = 4.
    feats = head.ncm_features(x)
    assert torch.allclose(feats, torch.tensor([[2., 0.], [0., 4.]]))
    head.set_class_means(
        torch.tensor([[1., 0.], [0., 1.], [1., 1.], [-1., 0.]]))
    with torch.no_grad():
        cls_score, _ = head(x)
    r = 1 / math.sqrt(2)
    assert torch.allclose(
        cls_score, 20 * torch.tensor([[1., 0., r, -1.], [0., 1., r, 0.]]),
        atol=1e-5)


def test_errors():
    head = build().eval()
    with pytest.raises(RuntimeError, match='tools/misc/ncm.py'):
        head(torch.randn(1, 2, 2, 2))
    # counts loaded but means not (feature size mismatch) -> explicit error
    head.class_counts.fill_(1)
    with pytest.raises(RuntimeError, match='all-zero mean'):
        head(torch.randn(1, 2, 2, 2))
    with pytest.raises(ValueError, match="'fc' or 'conv'"):
        MODELS.build(dict(type='NCMBBoxHead', feature='pool', **BASE))
    with pytest.raises(ValueError, match='shape'):
        head.set_class_means(torch.zeros(C, 4))


def test_state_dict_roundtrip():
    head = build()
    head.set_class_means(torch.arange(16.).reshape(4, 4),
                         torch.tensor([1, 2, 0, 3]))
    other = build()
    other.load_state_dict(head.state_dict())
    assert torch.equal(other.class_means, head.class_means)
    assert other.valid_classes.tolist() == [True, True, False, True]


def test_accumulator_means_hand_values():
    acc = ClassMeanAccumulator(4, 2)
    acc.update(torch.tensor([[1., 2.], [3., 4.], [10., 0.]]),
               torch.tensor([0, 0, 3]))
    acc.update(torch.tensor([[5., 6.]]), torch.tensor([0]))
    acc.update(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    assert acc.counts.tolist() == [3, 0, 0, 1]
    expected = torch.tensor([[3., 4.], [0., 0.], [0., 0.], [10., 0.]])
    assert torch.allclose(acc.means(), expected)
    with pytest.raises(ValueError, match='labels must lie'):
        acc.update(torch.zeros(1, 2), torch.tensor([4]))
