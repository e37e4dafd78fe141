"""EqualizationLossV2 (EQLv2): values, gradients and gradient statistics
against hand computations with plain torch ops."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmdet.registry import MODELS
from mmlt.models.losses import EqualizationLossV2

GAMMA, MU, ALPHA = 12.0, 0.8, 4.0


def targets(labels, width):
    """One-hot over C+1 columns: bg RoIs (label C) -> objectness column."""
    y = torch.zeros(len(labels), width, dtype=torch.float64)
    y[torch.arange(len(labels)), labels] = 1
    return y


def hand_weights(ratio):
    """pos_w, neg_w [C+1] from gradient ratios g [C] (objectness: 1)."""
    neg = 1 / (1 + torch.exp(-GAMMA * (ratio - MU)))
    pos = 1 + ALPHA * (1 - neg)
    one = torch.ones(1, dtype=neg.dtype)
    return torch.cat([pos, one]), torch.cat([neg, one])


def hand_stats(z, labels, ratio, r=None):
    """(pos, neg) sums of |p - y| * w over RoIs, objectness excluded."""
    y = targets(labels, z.shape[1])
    pos_w, neg_w = hand_weights(ratio)
    w = pos_w * y + neg_w * (1 - y)
    if r is not None:
        w = w * r[:, None]
    g = (torch.sigmoid(z.double()) - y).abs() * w
    return (g * y).sum(0)[:-1], (g * (1 - y)).sum(0)[:-1]


def make_case(n=20, c=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:5] = c
    z = (torch.randn(n, c + 1, generator=g) * 3).to(dtype)
    return z, labels


def test_first_iteration_is_plain_bce():
    z, labels = make_case()
    c = z.shape[1] - 1
    loss = MODELS.build(dict(type='EqualizationLossV2', num_classes=c))
    assert isinstance(MODELS.build(dict(type='EQLv2', num_classes=c)),
                      EqualizationLossV2)
    z1 = z.clone().requires_grad_()
    out = loss(z1, labels)
    out.backward()
    z2 = z.clone().requires_grad_()
    # objectness target: 1 on the last channel for background RoIs
    ref = F.binary_cross_entropy_with_logits(
        z2, targets(labels, c + 1), reduction='sum') / len(labels)
    ref.backward()
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-12, atol=1e-14)


def test_buffer_update_and_second_step_weights():
    z, labels = make_case(seed=1)
    c = z.shape[1] - 1
    loss = EqualizationLossV2(num_classes=c, loss_weight=3.0)
    r = torch.rand(len(labels), dtype=torch.float64)

    # step 1: weights 1 -> plain |p - y| sums
    loss(z, labels, r, avg_factor=7.0)
    ratio0 = torch.full((c, ), 100., dtype=torch.float64)
    pos1, neg1 = hand_stats(z, labels, ratio0, r)
    torch.testing.assert_close(loss.pos_grad, pos1, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(loss.neg_grad, neg1, rtol=1e-12, atol=1e-15)
    ratio1 = pos1 / (neg1 + 1e-10)
    torch.testing.assert_close(loss.pos_neg, ratio1)

    # step 2: re-weighted loss, value/grad and statistics by hand
    z2, labels2 = make_case(seed=2)
    zz = z2.clone().requires_grad_()
    out = loss(zz, labels2, r, avg_factor=7.0)
    out.backward()
    y = targets(labels2, c + 1)
    pos_w, neg_w = hand_weights(ratio1)
    w = (pos_w * y + neg_w * (1 - y)) * r[:, None]
    zr = z2.clone().requires_grad_()
    ref = 3.0 * (w * F.binary_cross_entropy_with_logits(
        zr, y, reduction='none')).sum() / 7.0
    ref.backward()
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(zz.grad, zr.grad, rtol=1e-12, atol=1e-14)
    pos2, neg2 = hand_stats(z2, labels2, ratio1, r)
    torch.testing.assert_close(loss.pos_grad, pos1 + pos2)
    torch.testing.assert_close(loss.neg_grad, neg1 + neg2)


def test_weights_after_known_ratio():
    c = 4
    loss = EqualizationLossV2(num_classes=c, reduction='none')
    ratio = torch.tensor([0., 0.8, 2., 0.5], dtype=torch.float64)
    loss.pos_neg.copy_(ratio)
    z = torch.randn(6, c + 1, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 4, 4])
    y = targets(labels, c + 1)
    bce = F.binary_cross_entropy_with_logits(z, y, reduction='none')
    w = loss.eval()(z, labels) / bce
    neg = [1 / (1 + math.exp(-12 * (g - 0.8))) for g in ratio.tolist()]
    pos = [1 + 4 * (1 - q) for q in neg]
    # negatives of class j: rows whose label != j
    for j in range(c):
        neg_rows = labels != j
        torch.testing.assert_close(w[neg_rows, j],
                                   torch.full_like(w[neg_rows, j], neg[j]))
        torch.testing.assert_close(w[j, j],
                                   torch.tensor(pos[j], dtype=torch.float64))
    assert neg[1] == 0.5 and pos[1] == 3.0
    # objectness channel: weights 1 whatever the target
    torch.testing.assert_close(w[:, c], torch.ones(6, dtype=torch.float64))


def test_class_never_positive_is_switched_off():
    c = 3
    loss = EqualizationLossV2(num_classes=c)
    z = torch.randn(8, c + 1)
    labels = torch.tensor([0, 0, 1, 3, 3, 3, 1, 3])  # class 2 never positive
    loss(z, labels)
    assert loss.pos_grad[2] == 0 and loss.neg_grad[2] > 0
    pos_w, neg_w = loss.get_weight()
    expected = 1 / (1 + math.exp(GAMMA * MU))  # sigma(-12 * 0.8) ~ 6.8e-5
    assert neg_w[2].item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(6.77e-5, rel=1e-3)
    assert pos_w[2].item() == pytest.approx(1 + ALPHA * (1 - expected))


def test_state_dict_round_trip():
    z, labels = make_case(seed=3)
    c = z.shape[1] - 1
    a = EqualizationLossV2(num_classes=c)
    a(z, labels)
    a(make_case(seed=4)[0], make_case(seed=4)[1])
    sd = a.state_dict()
    assert set(sd) == {'pos_grad', 'neg_grad', 'pos_neg'}
    assert all(v.dtype == torch.float64 for v in sd.values())
    b = EqualizationLossV2(num_classes=c)
    b.load_state_dict(sd)
    for k in sd:
        assert torch.equal(getattr(a, k), getattr(b, k))
    z5, l5 = make_case(seed=5)
    assert torch.equal(a(z5, l5), b(z5, l5))
    assert torch.equal(a.pos_grad, b.pos_grad)


def test_activation_channels_and_accuracy():
    c = 3
    z = torch.tensor([[2., -1., 0.5, -2.], [-3., 1., -1., 1.5]])
    p = 1 / (1 + torch.exp(-z))
    with_obj = EqualizationLossV2(num_classes=c).get_activation(z)
    torch.testing.assert_close(with_obj[:, :c], p[:, :c] * (1 - p[:, c:]))
    torch.testing.assert_close(with_obj[:, c], p[:, c])
    no_obj = EqualizationLossV2(num_classes=c,
                                test_with_obj=False).get_activation(z)
    torch.testing.assert_close(no_obj, p)

    loss = EqualizationLossV2(num_classes=c)
    assert loss.get_cls_channels(c) == c + 1
    assert loss.custom_cls_channels and loss.custom_activation
    with pytest.raises(ValueError, match='loss_cls.num_classes=3'):
        loss.get_cls_channels(5)
    acc = loss.get_accuracy(z, torch.tensor([0, 3]))
    assert {float(v) for v in acc.values()} == {100.}
    assert set(acc) == {'acc', 'acc_fg', 'acc_obj'}


def test_width_mismatch_names_the_key():
    loss = EqualizationLossV2(num_classes=4)
    with pytest.raises(ValueError, match=r'5 \(C classes \+ 1 objectness'):
        loss(torch.zeros(2, 4), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match='bbox_head.loss_cls.num_classes'):
        loss(torch.zeros(2, 1204), torch.tensor([0, 4]))
    default = EqualizationLossV2()
    assert default.num_classes == 1203 and default.pos_grad.shape == (1203, )


def test_autocast_bf16_gives_fp32_statistics():
    torch.manual_seed(6)
    c, n = 5, 32
    fc = torch.nn.Linear(8, c + 1)
    x = torch.randn(n, 8)
    labels = torch.randint(0, c + 1, (n, ))

    ref = EqualizationLossV2(num_classes=c)
    with torch.no_grad():
        z32 = fc(x)
    out32 = ref(z32, labels)
    ref(z32, labels)

    amp = EqualizationLossV2(num_classes=c)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        z16 = fc(x)
        assert z16.dtype == torch.bfloat16
        out16 = amp(z16, labels)
    out16.backward()
    assert out16.dtype == torch.float32
    assert fc.weight.grad is not None and fc.weight.grad.isfinite().all()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        amp(fc(x), labels)
    assert amp.pos_grad.dtype == torch.float64
    torch.testing.assert_close(out16, out32, rtol=2e-2, atol=1e-3)
    torch.testing.assert_close(amp.pos_grad,
                               ref.pos_grad,
                               rtol=2e-2,
                               atol=1e-3)
    torch.testing.assert_close(amp.neg_grad,
                               ref.neg_grad,
                               rtol=2e-2,
                               atol=1e-3)
    # the bf16 logits themselves are processed exactly in fp32
    exact = EqualizationLossV2(num_classes=c)
    exact(z16.detach().float(), labels)
    first = EqualizationLossV2(num_classes=c)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        first(z16.detach(), labels)
    torch.testing.assert_close(first.pos_grad,
                               exact.pos_grad,
                               rtol=1e-6,
                               atol=1e-9)


def test_gradient_accumulation_counts_every_forward():
    c = 4
    loss = EqualizationLossV2(num_classes=c)
    za, la = make_case(n=12, c=c, seed=7)
    zb, lb = make_case(n=12, c=c, seed=8)
    for z, lab in ((za, la), (zb, lb)):  # two micro-batches, one step
        zz = z.clone().requires_grad_()
        loss(zz, lab).backward()
    pa, na = hand_stats(za, la, torch.full((c, ), 100., dtype=torch.float64))
    pb, nb = hand_stats(zb, lb, pa / (na + 1e-10))
    torch.testing.assert_close(loss.pos_grad, pa + pb)
    torch.testing.assert_close(loss.neg_grad, na + nb)


def test_eval_mode_does_not_collect():
    loss = EqualizationLossV2(num_classes=4).eval()
    z, labels = make_case(n=8, c=4, seed=9)
    loss(z, labels)
    assert loss.pos_grad.abs().sum() == 0 and (loss.pos_neg == 100).all()


def test_reduction_none_and_sum_match_mean():
    z, labels = make_case(seed=10)
    c = z.shape[1] - 1
    a, b, d = (EqualizationLossV2(num_classes=c) for _ in range(3))
    mean = a(z, labels)
    total = b(z, labels, reduction_override='sum')
    none = d(z, labels, reduction_override='none')
    torch.testing.assert_close(total, mean * len(labels))
    torch.testing.assert_close(none.sum(), total)
    # all reductions collect the same statistics
    torch.testing.assert_close(a.neg_grad, d.neg_grad)
    torch.testing.assert_close(a.pos_grad, b.pos_grad)


def test_group_weight_stats():
    loss = EqualizationLossV2(num_classes=4)
    ratio = torch.tensor([0., 0.8, 2., 0.5], dtype=torch.float64)
    loss.pos_neg.copy_(ratio)
    neg = 1 / (1 + torch.exp(-12 * (ratio - 0.8)))
    pos = 1 + 4 * (1 - neg)
    stats = loss.group_weight_stats(['r', 'c', 'f', 'r'])
    assert stats['neg_w_r'] == pytest.approx(float(neg[[0, 3]].mean()))
    assert stats['pos_w_c'] == pytest.approx(float(pos[1]))
    assert stats['grad_ratio_f'] == pytest.approx(2.0)
    stats = loss.group_weight_stats({'tail': [0, 1], 'none': []})
    assert set(stats) == {'pos_w_tail', 'neg_w_tail', 'grad_ratio_tail'}
