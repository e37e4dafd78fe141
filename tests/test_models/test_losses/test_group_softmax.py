"""GroupSoftmaxLoss (BAGS) against explicit per-group log-softmax, hand
gradients, the "others" sampling rule and the score merge."""
import pytest
import torch

import mmlt  # noqa: F401  (registers)
from mmdet.registry import MODELS
from mmlt.models.losses import GroupSoftmaxLoss

# groups of (10, 100, 1000) for these counts (see test_label_mapping.py)
COUNTS = [3, 15, 150, 2000, 9, 40]
C = 6
MAPPING = dict(type='GroupSoftmaxLabelMapping', instance_counts=COUNTS)
# (slice start, slice length, {label: in-group label}); others = 0
GROUPS = [
    (0, 2, {6: 1}),  # background group: fg -> 0, bg -> 1
    (2, 3, {0: 1, 4: 2}),
    (5, 3, {1: 1, 5: 2}),
    (8, 2, {2: 1}),
    (10, 2, {3: 1}),
]
K = 12


def make_loss(**kw):
    kw.setdefault('label_mapping', MAPPING)
    return GroupSoftmaxLoss(**kw)


def explicit_loss(z, labels, weights):
    """sum_i w_ig * -log softmax(z_i[slice g])[t_ig] / max(sum_i w_ig, 1)
    with the hand table above; weights [N, G]."""
    out = []
    for g, (start, length, members) in enumerate(GROUPS):
        logp = torch.log_softmax(z[:, start:start + length], 1)
        t = torch.tensor([members.get(int(l), 0) for l in labels])
        ce = -logp[torch.arange(len(z)), t]
        w = weights[:, g]
        out.append((w * ce).sum() / w.sum().clamp(min=1))
    return torch.stack(out)


def explicit_grad(z, labels, weights, gout):
    """d(sum_g gout_g L_g)/dz = w_ig gout_g / norm_g * (softmax - onehot)
    on every group slice."""
    grad = torch.zeros_like(z)
    for g, (start, length, members) in enumerate(GROUPS):
        p = torch.softmax(z[:, start:start + length], 1)
        t = torch.tensor([members.get(int(l), 0) for l in labels])
        y = torch.zeros_like(p)
        y[torch.arange(len(z)), t] = 1
        norm = weights[:, g].sum().clamp(min=1)
        grad[:, start:start + length] = (weights[:, g] * gout[g] /
                                         norm)[:, None] * (p - y)
    return grad


def test_registered_channels_and_flags():
    loss = MODELS.build(dict(type='GroupSoftmaxLoss', label_mapping=MAPPING))
    assert isinstance(loss, GroupSoftmaxLoss)
    assert loss.custom_cls_channels and loss.custom_activation and \
        loss.custom_accuracy
    assert loss.get_cls_channels(C) == K == C + 1 + 5
    with pytest.raises(ValueError, match=r'bbox_head.num_classes=7'):
        loss.get_cls_channels(7)
    with pytest.raises(ValueError, match='loss_cls.num_classes=5'):
        make_loss(num_classes=5)
    with pytest.raises(ValueError, match='use_sigmoid'):
        make_loss(use_sigmoid=True)
    # no state in checkpoints
    assert loss.state_dict() == {}


def test_value_and_grad_vs_explicit_no_subsampling():
    """beta large enough that every "others" RoI is kept: weights are 1 in
    group 0, 1 in groups with a member in the batch, 0 in group 3."""
    torch.manual_seed(0)
    labels = torch.tensor([0, 6, 1, 5, 3, 6, 4, 6])  # no class 2 -> group 3
    z = (torch.randn(8, K, dtype=torch.float64) * 2).requires_grad_()
    loss = make_loss(others_sample_ratio=100.)
    out = loss(z, labels)
    assert list(out) == [f'loss_cls_group{g}' for g in range(5)]
    weights = torch.ones(8, 5, dtype=torch.float64)
    weights[:, 3] = 0
    ref = explicit_loss(z.detach(), labels, weights)
    got = torch.stack(list(out.values()))
    torch.testing.assert_close(got, ref)
    assert got[3].item() == 0
    gout = torch.tensor([1., 2., 0.5, 3., -1.], dtype=torch.float64)
    (got * gout).sum().backward()
    torch.testing.assert_close(
        z.grad, explicit_grad(z.detach(), labels, weights, gout))
    # the group without positives sends no gradient to its slice
    assert torch.equal(z.grad[:, 8:10], torch.zeros(8, 2, dtype=z.dtype))


def test_hand_numbers_two_rois():
    """All-zero logits: every in-group softmax is uniform, so CE = log(len)
    of the slice for every active (RoI, group)."""
    import math
    labels = torch.tensor([0, 6])  # one class-0 RoI, one bg RoI
    z = torch.zeros(2, K)
    out = make_loss()(z, labels)
    # group 0: both RoIs, log 2; group 1 has the positive: 1 pos + int(8)
    # others capped at the 1 available -> both RoIs, log 3; groups 2-4: no
    # positive -> 0
    expect = [math.log(2), math.log(3), 0., 0., 0.]
    torch.testing.assert_close(
        torch.stack(list(out.values())), torch.tensor(expect))


def test_others_sampling_count_and_members_kept():
    # 3 RoIs of group 1 (labels 0/4), 40 others (bg and other classes)
    labels = torch.tensor([0, 4, 0] + [6] * 30 + [1] * 5 + [3] * 5)
    loss = make_loss(others_sample_ratio=2.5)
    torch.manual_seed(1)
    w = loss.group_weights(labels, None)
    assert w.shape == (43, 5)
    assert torch.equal(w[:, 0], torch.ones(43))  # group 0: all RoIs
    # group 1: the 3 members + int(3 * 2.5) = 7 of the 40 others
    assert w[:3, 1].tolist() == [1, 1, 1]
    assert int(w[3:, 1].sum()) == 7
    # group 2: 5 members + int(12.5) = 12 others; group 4: 5 + 12
    assert w[33:38, 2].tolist() == [1] * 5 and int(w[:, 2].sum()) == 17
    assert int(w[:, 4].sum()) == 17
    # group 3: no member -> switched off
    assert int(w[:, 3].sum()) == 0
    # beta 8: int(3 * 8) = 24 of 40 others; capped by the available others
    w = make_loss()(torch.zeros(43, K), labels, reduction_override='none')
    assert w.shape == (43, 5)
    assert int((w[:, 1] != 0).sum()) == 3 + 24
    assert int((w[:, 2] != 0).sum()) == 43  # 5 + min(40, 38 available)


def test_others_sampling_is_uniform_without_replacement():
    labels = torch.tensor([0, 0] + [6] * 10)  # 2 members, 10 others
    loss = make_loss(others_sample_ratio=2.)  # 4 of 10 others each draw
    torch.manual_seed(0)
    hits = torch.zeros(12)
    draws = 2000
    for _ in range(draws):
        w = loss.group_weights(labels, None)[:, 1]
        assert int(w[2:].sum()) == 4  # exactly k, no repeats
        hits += w
    assert hits[:2].tolist() == [draws, draws]
    freq = hits[2:] / draws
    # each other is picked with probability 4/10 (binomial sd ~0.011)
    assert (freq - 0.4).abs().max() < 0.05


def test_sampling_determinism_follows_global_seed():
    labels = torch.tensor([0, 1, 2] + [6] * 60)
    loss = make_loss(others_sample_ratio=5.)
    torch.manual_seed(123)
    a = loss.group_weights(labels, None)
    torch.manual_seed(123)
    b = loss.group_weights(labels, None)
    torch.manual_seed(124)
    c = loss.group_weights(labels, None)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_label_weights_and_reductions():
    torch.manual_seed(0)
    labels = torch.tensor([0, 6, 1, 5, 3, 6, 4, 6])
    z = torch.randn(8, K, dtype=torch.float64)
    r = torch.tensor([1., 0.5, 2., 0., 1., 1., 0., 1.], dtype=torch.float64)
    loss = make_loss(others_sample_ratio=100.)
    out = loss(z, labels, r, avg_factor=123.)  # avg_factor is ignored
    # RoIs with weight 0 are neither members nor others: label 5 (RoI 3)
    # and label 4 (RoI 6) are dropped; groups keep r_i of their RoIs
    active = torch.ones(8, 5, dtype=torch.float64)
    active[:, 3] = 0  # no class 2
    weights = active * r[:, None]
    torch.testing.assert_close(
        torch.stack(list(out.values())), explicit_loss(z, labels, weights))
    # 'sum': no normalisation; 'none': [N, G] terms; loss_weight scales all
    s = loss(z, labels, r, reduction_override='sum')
    none = make_loss(others_sample_ratio=100., loss_weight=2.)(
        z, labels, r, reduction_override='none')
    assert none.shape == (8, 5)
    torch.testing.assert_close(none.sum(0) / 2,
                               torch.stack(list(s.values())))
    norms = weights.sum(0).clamp(min=1)
    torch.testing.assert_close(
        torch.stack(list(s.values())) / norms,
        torch.stack(list(out.values())))
    # one summed term instead of the dict
    total = make_loss(others_sample_ratio=100., split_group_losses=False)(
        z, labels, r)
    torch.testing.assert_close(total, sum(out.values()))
    # a group whose only member has weight 0 is switched off
    labels2 = torch.tensor([3, 6, 6])
    out2 = loss(torch.randn(3, K), labels2, torch.tensor([0., 1., 1.]))
    assert out2['loss_cls_group4'].item() == 0


def test_merged_scores_properties():
    loss = make_loss()
    torch.manual_seed(0)
    z = torch.randn(50, K, dtype=torch.float64) * 4
    s = loss.get_activation(z)
    assert s.shape == (50, C + 1)
    assert (s >= 0).all() and (s <= 1).all()
    p0 = torch.softmax(z[:, :2], 1)
    # bg column = P(bg) of group 0
    torch.testing.assert_close(s[:, C], p0[:, 1])
    # in every group members + others sum to 1, so
    # sum_fg s = P(fg) * sum_g (1 - p_others_g)
    p_others = torch.stack([
        torch.softmax(z[:, start:start + length], 1)[:, 0]
        for start, length, _ in GROUPS[1:]
    ], 1)
    torch.testing.assert_close(s[:, :C].sum(1),
                               p0[:, 0] * (1 - p_others).sum(1))
    # class scores never exceed P(fg)
    assert (s[:, :C] <= p0[:, :1] + 1e-12).all()
    # half precision logits are merged in fp32
    assert loss.get_activation(z.half()).dtype == torch.float32


def test_accuracy():
    loss = make_loss()
    z = torch.full((3, K), -10.)
    z[0, 0] = 10.  # RoI 0: fg, ...
    z[0, 3] = 10.  # ... class 0 (group 1, in-group 1)
    z[1, 1] = 10.  # RoI 1: bg
    z[2, 0] = 10.  # RoI 2: fg, class 3 (group 4, in-group 1)
    z[2, 11] = 10.
    acc = loss.get_accuracy(z, torch.tensor([0, 6, 2]))
    assert acc['acc'].item() == pytest.approx(200 / 3)
    assert acc['acc_fg'].item() == pytest.approx(50.)


def test_input_errors():
    loss = make_loss()
    with pytest.raises(ValueError, match=r'\[N, 12\]'):
        loss(torch.zeros(2, 7), torch.tensor([0, 6]))
    with pytest.raises(ValueError, match='labels must lie'):
        loss(torch.zeros(2, K), torch.tensor([0, 7]))
    with pytest.raises(ValueError, match='weight must be per RoI'):
        loss(torch.zeros(2, K), torch.tensor([0, 6]), torch.ones(3))
    # empty batch: finite zeros
    out = loss(torch.zeros(0, K, requires_grad=True),
               torch.zeros(0, dtype=torch.long))
    assert all(v.item() == 0 for v in out.values())


def test_merged_scores_differentiable():
    """The merge works under autograd (e.g. a distillation loss on the
    scores) and its gradient is that of the explicit formula."""
    loss = make_loss()
    torch.manual_seed(0)
    z = torch.randn(5, K, dtype=torch.float64, requires_grad=True)
    coef = torch.randn(5, C + 1, dtype=torch.float64)
    (loss.get_activation(z) * coef).sum().backward()
    z2 = z.detach().clone().requires_grad_()
    p0 = torch.softmax(z2[:, :2], 1)
    cols = [None] * (C + 1)
    cols[C] = p0[:, 1]
    slots = [(0, 2, 3, 1), (4, 2, 3, 2), (1, 5, 3, 1), (5, 5, 3, 2),
             (2, 8, 2, 1), (3, 10, 2, 1)]
    for c, start, length, pos in slots:
        cols[c] = p0[:, 0] * torch.softmax(z2[:, start:start + length],
                                           1)[:, pos]
    (torch.stack(cols, 1) * coef).sum().backward()
    torch.testing.assert_close(z.grad, z2.grad)
