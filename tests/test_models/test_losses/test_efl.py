"""EqualizedFocalLoss (EFL) / EqualizedQualityFocalLoss (EQFL): values and
gradients against mmdet's FocalLoss / QualityFocalLoss (g = 1) and hand
formulas (other g), gradient statistics against autograd, state handling."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmdet.models.losses import FocalLoss, QualityFocalLoss
from mmdet.registry import MODELS
from mmlt.models.losses import EqualizedFocalLoss, EqualizedQualityFocalLoss

EPS = torch.finfo(torch.float32).eps  # mmdet's weight_reduce_loss: D + eps
GB, S, ALPHA = 2.0, 8.0, 0.25


def make_case(n=40, c=6, seed=0, dtype=torch.float64, ignore=False):
    """Logits [N, C], labels in [0, C] (C = background; -1 ignored),
    label weights [N] with some zeros, IoU scores [N]."""
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=g, dtype=torch.float64) * 3 -
         1).to(dtype)
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:n // 4] = c
    if ignore:
        labels[n // 4:n // 4 + 3] = -1
    weight = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    weight[-3:] = 0
    score = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    return z, labels, weight, score


def onehot(labels, c):
    y = torch.zeros(len(labels), c + 1, dtype=torch.float64)
    valid = labels >= 0
    y[valid.nonzero().squeeze(1), labels[valid]] = 1
    return y[:, :c]


def factors(g):
    gamma = GB + S * (1 - g)
    return gamma, gamma / GB


def hand_efl_elements(z, labels, g, alpha=ALPHA):
    """alpha_t * w_j * (1 - p_t)^gamma_j * (-log p_t), [N, C]."""
    y = onehot(labels, z.shape[1])
    gamma, w = factors(g)
    log_pt = F.logsigmoid(torch.where(y > 0, z, -z))
    one_minus_pt = torch.where(y > 0, torch.sigmoid(-z), torch.sigmoid(z))
    a = torch.where(y > 0, alpha, 1 - alpha)
    loss = a * w * one_minus_pt.pow(gamma) * (-log_pt)
    return loss * (labels >= 0)[:, None]


def hand_eqfl_rows(z, labels, score, g):
    """sum_j w_j * (p^gamma BCE(z, 0) | |q - p|^gamma BCE(z, q)), [N]."""
    c = z.shape[1]
    gamma, w = factors(g)
    p = torch.sigmoid(z)
    loss = w * p.pow(gamma) * F.softplus(z)
    loss = loss.clone()
    for i in range(len(labels)):
        j = int(labels[i])
        if 0 <= j < c:
            loss[i, j] = w[j] * (score[i] - p[i, j]).abs().pow(gamma[j]) * \
                F.binary_cross_entropy_with_logits(z[i, j], score[i])
    return loss.sum(1) * (labels >= 0)


def set_ratio(loss, g):
    loss.pos_neg.copy_(torch.as_tensor(g, dtype=torch.float64))


def grad_of(fn, z):
    zz = z.detach().clone().requires_grad_()
    out = fn(zz)
    out.backward(torch.ones_like(out))
    return out.detach(), zz.grad


def split_abs(grad, labels, c):
    """Per-class sums of |grad| over target entries / the other entries."""
    y = onehot(labels, c).to(grad.dtype)
    return (grad.abs() * y).sum(0), (grad.abs() * (1 - y)).sum(0)


# ----------------------------------------------------------- registration
def test_registry_names_and_defaults():
    a = MODELS.build(dict(type='EFL', num_classes=5))
    b = MODELS.build(dict(type='EqualizedFocalLoss', num_classes=5))
    assert isinstance(a, EqualizedFocalLoss) and type(a) is type(b)
    q = MODELS.build(dict(type='EQFL', num_classes=5))
    assert isinstance(q, EqualizedQualityFocalLoss)
    assert isinstance(
        MODELS.build(dict(type='EqualizedQualityFocalLoss', num_classes=5)),
        EqualizedQualityFocalLoss)
    d = EqualizedFocalLoss()
    assert (d.num_classes, d.gamma, d.alpha, d.scale_factor) == \
        (1203, 2.0, 0.25, 8.0)
    sd = d.state_dict()
    assert set(sd) == {'pos_grad', 'neg_grad', 'pos_neg', 'pending_grad'}
    assert all(v.dtype == torch.float64 for v in sd.values())
    assert (d.pos_neg == 1).all() and (d.pos_grad == 0).all()
    assert EqualizedQualityFocalLoss().beta == 2.0


# ------------------------------------------------------ EFL vs FocalLoss
@pytest.mark.parametrize('reduction,avg_factor', [('mean', 7.0),
                                                  ('mean', None),
                                                  ('mean', 'tensor'),
                                                  ('sum', None),
                                                  ('none', None)])
@pytest.mark.parametrize('weight_kind', ['row', 'elem', None])
def test_efl_is_focal_loss_when_g_is_one(reduction, avg_factor, weight_kind):
    z, labels, w, _ = make_case(seed=1)
    c = z.shape[1]
    if weight_kind == 'elem':
        w = torch.rand(len(labels), c, dtype=torch.float64)
    elif weight_kind is None:
        w = None
    if avg_factor == 'tensor':
        avg_factor = torch.tensor(5.5, dtype=torch.float64)
    kw = dict(weight=w, avg_factor=avg_factor, reduction_override=reduction)
    for train in (False, True):  # g = 1 also for the first training step
        efl = EqualizedFocalLoss(num_classes=c, loss_weight=1.5).train(train)
        ref = FocalLoss(loss_weight=1.5)
        out, grad = grad_of(lambda x: efl(x, labels, **kw), z)
        out_ref, grad_ref = grad_of(lambda x: ref(x, labels, **kw), z)
        assert out.shape == out_ref.shape
        torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-14)


def test_efl_one_hot_target_matches_label_target():
    z, labels, w, _ = make_case(seed=2)
    c = z.shape[1]
    efl = EqualizedFocalLoss(num_classes=c).eval()
    set_ratio(efl, torch.linspace(0, 1, c))
    y = onehot(labels, c)
    a, ga = grad_of(lambda x: efl(x, labels, w, avg_factor=3.), z)
    b, gb = grad_of(lambda x: efl(x, y, w, avg_factor=3.), z)
    torch.testing.assert_close(a, b, rtol=1e-13, atol=0)
    torch.testing.assert_close(ga, gb, rtol=1e-13, atol=0)
    # and mmdet's FocalLoss accepts the same one-hot target at g = 1
    out = EqualizedFocalLoss(num_classes=c).eval()(z, y, w, avg_factor=3.)
    torch.testing.assert_close(out, FocalLoss()(z, y, w, avg_factor=3.))
    # a soft target (YOLOXHead's one_hot * IoU) counts as binary
    torch.testing.assert_close(efl(z, y * 0.5, w, avg_factor=3.), a,
                               rtol=0, atol=0)
    y2 = y.clone()
    y2[:, 0] = 0.5  # rows with a label now have two non-zeros
    with pytest.raises(ValueError, match='at most one non-zero'):
        efl(z, y2, w)


# --------------------------------------------------- EFL: other g by hand
def test_efl_single_elements_by_hand():
    efl = EqualizedFocalLoss(num_classes=2, reduction='sum').eval()
    set_ratio(efl, [0.0, 0.5])  # gamma = 10, 6; weighting 5, 3
    z = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    # label 2 = background: both entries are negatives with p = 1/2
    out = efl(z, torch.tensor([2]), reduction_override='none')
    expected = [0.75 * 5 * 0.5**10 * math.log(2), 0.75 * 3 * 0.5**6 *
                math.log(2)]
    torch.testing.assert_close(out[0], torch.tensor(expected,
                                                    dtype=torch.float64))
    # class 1 positive at z = 2: alpha * 3 * (1 - p)^6 * -log p
    z = torch.tensor([[0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    out = efl(z, torch.tensor([1]))
    p = 1 / (1 + math.exp(-2))
    pos = 0.25 * 3 * (1 - p)**6 * -math.log(p)
    assert out.item() == pytest.approx(expected[0] + pos, rel=1e-12)
    out.backward()
    # d/dz of (1-p)^6 (-log p) = -(1-p)^6 (6 p (-log p) + (1 - p))
    dpos = -0.25 * 3 * (1 - p)**6 * (6 * p * -math.log(p) + (1 - p))
    # d/dz of p^10 softplus(z) at 0 = 0.5^10 (10 * 0.5 * log 2 + 0.5)
    dneg = 0.75 * 5 * 0.5**10 * (10 * 0.5 * math.log(2) + 0.5)
    torch.testing.assert_close(
        z.grad, torch.tensor([[dneg, dpos]], dtype=torch.float64))


@pytest.mark.parametrize('ratio', [
    [0.0, 0.1, 0.5, 0.9, 1.0, 0.3],
    [1.0, 1.0, 0.0, 0.0, 0.25, 0.75],
])
def test_efl_value_and_gradient_for_given_g(ratio):
    z, labels, w, _ = make_case(seed=3, ignore=True)
    c = z.shape[1]
    g = torch.tensor(ratio, dtype=torch.float64)
    efl = EqualizedFocalLoss(num_classes=c, loss_weight=2.0).eval()
    set_ratio(efl, g)
    out, grad = grad_of(lambda x: efl(x, labels, w, avg_factor=4.), z)

    def hand(x):
        return 2.0 * (hand_efl_elements(x, labels, g) *
                      w[:, None]).sum() / (4. + EPS)

    out_ref, grad_ref = grad_of(hand, z)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-14)
    # 'none': element losses times weight and loss_weight
    none = efl(z, labels, w, reduction_override='none')
    torch.testing.assert_close(
        none, 2.0 * hand_efl_elements(z, labels, g) * w[:, None])
    # 'mean' without avg_factor: mean over the N * C elements (as mmdet)
    torch.testing.assert_close(efl(z, labels, w), none.sum() / none.numel())


# ----------------------------------------------------- EQFL vs QFL / hand
@pytest.mark.parametrize('reduction,avg_factor', [('mean', 6.0),
                                                  ('mean', None),
                                                  ('sum', None),
                                                  ('none', None)])
def test_eqfl_is_qfl_when_g_is_one(reduction, avg_factor):
    z, labels, w, score = make_case(seed=4)
    c = z.shape[1]
    kw = dict(weight=w, avg_factor=avg_factor, reduction_override=reduction)
    eqfl = EqualizedQualityFocalLoss(num_classes=c, loss_weight=0.5).train()
    ref = QualityFocalLoss(loss_weight=0.5)
    out, grad = grad_of(lambda x: eqfl(x, (labels, score), **kw), z)
    out_ref, grad_ref = grad_of(lambda x: ref(x, (labels, score), **kw), z)
    assert out.shape == out_ref.shape
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-14)


def test_eqfl_value_and_gradient_for_given_g():
    z, labels, w, score = make_case(seed=5, ignore=True)
    c = z.shape[1]
    g = torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0, 0.05], dtype=torch.float64)
    eqfl = EqualizedQualityFocalLoss(num_classes=c).eval()
    set_ratio(eqfl, g)
    out, grad = grad_of(lambda x: eqfl(x, (labels, score), w,
                                       avg_factor=3.), z)
    out_ref, grad_ref = grad_of(
        lambda x: (hand_eqfl_rows(x, labels, score, g) * w).sum() /
        (3. + EPS), z)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-14)
    none = eqfl(z, (labels, score), w, reduction_override='none')
    torch.testing.assert_close(none, hand_eqfl_rows(z, labels, score, g) * w)
    torch.testing.assert_close(eqfl(z, (labels, score), w),
                               none.sum() / len(labels))


def test_eqfl_positive_term_by_hand():
    eqfl = EqualizedQualityFocalLoss(num_classes=1, reduction='sum').eval()
    set_ratio(eqfl, [0.5])  # gamma 6, weighting 3
    z = torch.tensor([[1.0]], dtype=torch.float64, requires_grad=True)
    q = 0.9
    out = eqfl(z, (torch.tensor([0]), torch.tensor([q],
                                                   dtype=torch.float64)))
    p = 1 / (1 + math.exp(-1))
    bce = -(q * math.log(p) + (1 - q) * math.log(1 - p))
    assert out.item() == pytest.approx(3 * (q - p)**6 * bce, rel=1e-12)
    out.backward()
    # d/dz |q-p|^6 bce = 6 |d|^5 sign(d) p(1-p) bce + |d|^6 d, d = p - q
    d = p - q
    expected = 3 * (6 * abs(d)**5 * math.copysign(1, d) * p * (1 - p) * bce +
                    abs(d)**6 * d)
    assert z.grad.item() == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------ statistics
def stats_vs_autograd(loss_cls, make_target, labels, z, **kw):
    """Run one training step; return (buffers, autograd reference)."""
    c = z.shape[1]
    before = {k: v.clone() for k, v in loss_cls.state_dict().items()}
    ref_loss = type(loss_cls)(num_classes=c,
                              loss_weight=loss_cls.loss_weight).eval()
    ref_loss.load_state_dict(before)
    _, grad = grad_of(lambda x: ref_loss(x, make_target(), **kw), z)
    pos, neg = split_abs(grad.double(), labels, c)
    zz = z.detach().clone().requires_grad_()
    out = loss_cls.train()(zz, make_target(), **kw)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(zz.grad, grad, rtol=0, atol=0)
    return (loss_cls.pos_grad - before['pos_grad'],
            loss_cls.neg_grad - before['neg_grad']), (pos, neg)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_statistics_equal_autograd_gradient(reduction, dtype):
    z, labels, w, score = make_case(n=64, c=5, seed=6, ignore=True)
    z = z.to(dtype)
    w = w.to(dtype)
    c = z.shape[1]
    tol = dict(rtol=1e-12, atol=1e-15) if dtype == torch.float64 else \
        dict(rtol=1e-5, atol=1e-7)
    avg = 9.0 if reduction == 'mean' else None
    for loss_cls, target in [
        (EqualizedFocalLoss(num_classes=c, loss_weight=1.7), lambda: labels),
        (EqualizedQualityFocalLoss(num_classes=c, loss_weight=1.7),
         lambda: (labels, score.to(dtype))),
    ]:
        # two steps: the second with g != 1
        for step in range(2):
            zs = z + step
            got, ref = stats_vs_autograd(loss_cls, target, labels, zs,
                                         weight=w, avg_factor=avg,
                                         reduction_override=reduction)
            torch.testing.assert_close(got[0], ref[0], **tol)
            torch.testing.assert_close(got[1], ref[1], **tol)
            assert (got[0] > 0).any() and (got[1] > 0).all()
        assert (loss_cls.pos_neg < 1).any()
        torch.testing.assert_close(
            loss_cls.pos_neg,
            (loss_cls.pos_grad / (loss_cls.neg_grad + 1e-10)).clamp(0, 1))


def test_statistics_under_bf16_autocast():
    torch.manual_seed(7)
    c, n = 5, 48
    fc = torch.nn.Linear(8, c)
    x = torch.randn(n, 8)
    _, labels, w, score = make_case(n=n, c=c, seed=7, ignore=True)
    w = w.float()
    score = score.float()
    for cls, target in [(EqualizedFocalLoss, labels),
                        (EqualizedQualityFocalLoss, (labels, score))]:
        loss_cls = cls(num_classes=c)
        set_ratio(loss_cls, torch.linspace(0.1, 0.9, c))
        loss_cls.pos_grad.fill_(0.5)  # pos / neg = 0.5 after the step
        loss_cls.neg_grad.fill_(1.0)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            z16 = fc(x)
            assert z16.dtype == torch.bfloat16
            z16.retain_grad()
            before = {k: v.clone() for k, v in loss_cls.state_dict().items()}
            out = loss_cls.train()(z16, target, w, avg_factor=6.)
        assert out.dtype == torch.float32
        out.backward()
        # reference: the same bf16 values, exactly in fp32, by autograd
        ref_loss = cls(num_classes=c).eval()
        ref_loss.load_state_dict(before)
        out32, grad32 = grad_of(
            lambda v: ref_loss(v, target, w, avg_factor=6.),
            z16.detach().float())
        torch.testing.assert_close(out, out32, rtol=1e-6, atol=0)
        torch.testing.assert_close(z16.grad, grad32.to(torch.bfloat16))
        pos, neg = split_abs(grad32.double(), labels, c)
        torch.testing.assert_close(loss_cls.pos_grad - 0.5, pos, rtol=1e-6,
                                   atol=1e-9)
        torch.testing.assert_close(loss_cls.neg_grad - 1.0, neg, rtol=1e-6,
                                   atol=1e-9)
        assert loss_cls.pos_grad.dtype == torch.float64


def test_ignored_anchors_are_excluded():
    z, labels, w, score = make_case(n=30, c=4, seed=8)
    c = z.shape[1]
    ign_label = torch.zeros(30, dtype=torch.bool)
    ign_label[[1, 2, 3]] = True
    ign_weight = w == 0
    labels = labels.masked_fill(ign_label, -1)
    keep = ~(ign_label | ign_weight)
    noisy = z.clone()
    noisy[~keep] = torch.randn(int((~keep).sum()), c,
                               dtype=torch.float64) * 50
    for cls, tgt in [(EqualizedFocalLoss, lambda m: labels[m]),
                     (EqualizedQualityFocalLoss,
                      lambda m: (labels[m], score[m]))]:
        full, sub = cls(num_classes=c), cls(num_classes=c)
        all_rows = torch.ones(30, dtype=torch.bool)
        a, ga = grad_of(lambda x: full(x, tgt(all_rows), w, avg_factor=5.),
                        noisy)
        b, _ = grad_of(lambda x: sub(x, tgt(keep), w[keep], avg_factor=5.),
                       z[keep])
        torch.testing.assert_close(a, b, rtol=1e-13, atol=0)
        assert (ga[~keep] == 0).all()
        torch.testing.assert_close(full.pos_grad, sub.pos_grad, rtol=1e-13,
                                   atol=0)
        torch.testing.assert_close(full.neg_grad, sub.neg_grad, rtol=1e-13,
                                   atol=0)


def test_one_step_of_several_calls_uses_one_g():
    """AnchorHead calls the loss once per FPN level: all calls of a step
    use the same g (iteration 1: plain focal loss); g moves at backward."""
    c = 5
    efl = EqualizedFocalLoss(num_classes=c).train()
    levels = [make_case(n=20 + 10 * i, c=c, seed=20 + i) for i in range(3)]
    zs = [lv[0].clone().requires_grad_() for lv in levels]
    outs = [efl(zz, lv[1], lv[2], avg_factor=4.) for zz, lv in zip(zs, levels)]
    for out, lv in zip(outs, levels):
        torch.testing.assert_close(out, FocalLoss()(lv[0], lv[1], lv[2],
                                                    avg_factor=4.))
    assert (efl.pos_neg == 1).all() and (efl.pos_grad == 0).all()
    assert (efl.pending_grad[1] > 0).all()
    sum(outs).backward()
    assert (efl.pending_grad == 0).all()
    pos = sum(split_abs(zz.grad, lv[1], c)[0] for zz, lv in zip(zs, levels))
    neg = sum(split_abs(zz.grad, lv[1], c)[1] for zz, lv in zip(zs, levels))
    torch.testing.assert_close(efl.pos_grad, pos)
    torch.testing.assert_close(efl.neg_grad, neg)
    torch.testing.assert_close(efl.pos_neg, (pos / (neg + 1e-10)).clamp(0, 1))


def test_gradient_accumulation_and_forward_without_backward():
    c = 4
    a = EqualizedFocalLoss(num_classes=c).train()
    za, la, wa, _ = make_case(n=24, c=c, seed=30)
    zb, lb, wb, _ = make_case(n=24, c=c, seed=31)
    # micro-batch 1: forward + backward -> g updated before micro-batch 2
    _, ga = grad_of(lambda x: a(x, la, wa, avg_factor=2.), za)
    g1 = a.pos_neg.clone()
    assert not torch.equal(g1, torch.ones(c, dtype=torch.float64))
    ref = EqualizedFocalLoss(num_classes=c).eval()
    set_ratio(ref, g1)
    _, gb = grad_of(lambda x: a(x, lb, wb, avg_factor=2.), zb)
    _, gb_ref = grad_of(lambda x: ref(x, lb, wb, avg_factor=2.), zb)
    torch.testing.assert_close(gb, gb_ref, rtol=1e-13, atol=0)
    pos = split_abs(ga, la, c)[0] + split_abs(gb, lb, c)[0]
    torch.testing.assert_close(a.pos_grad, pos)
    # a training forward without backward still counts (folded later)
    with torch.no_grad():
        a(za, la, wa, avg_factor=2.)
    assert torch.equal(a.pos_neg, (a.pos_grad / (a.neg_grad + 1e-10)).clamp(
        0, 1))
    pending = a.pending_grad.clone()
    assert (pending[1] > 0).all()
    _, gc = grad_of(lambda x: a(x, lb, wb, avg_factor=2.), zb)
    assert (a.pending_grad == 0).all()
    pos += pending[0] + split_abs(gc, lb, c)[0]
    torch.testing.assert_close(a.pos_grad, pos)


def test_eval_mode_does_not_collect():
    z, labels, w, score = make_case(seed=9)
    for loss_cls, tgt in [(EqualizedFocalLoss(num_classes=6), labels),
                          (EqualizedQualityFocalLoss(num_classes=6),
                           (labels, score))]:
        loss_cls.eval()
        grad_of(lambda x: loss_cls(x, tgt, w), z)
        assert (loss_cls.pos_grad == 0).all()
        assert (loss_cls.pending_grad == 0).all()
        assert (loss_cls.pos_neg == 1).all()


def test_non_finite_logits_do_not_poison_statistics():
    z, labels, w, _ = make_case(n=16, c=3, seed=10)
    efl = EqualizedFocalLoss(num_classes=3).train()
    grad_of(lambda x: efl(x, labels, w), z)
    state = {k: v.clone() for k, v in efl.state_dict().items()}
    bad = z.clone()
    bad[0, 0] = float('inf')
    bad[1, 1] = float('nan')
    out, _ = grad_of(lambda x: efl(x, labels, w), bad)
    assert not torch.isfinite(out)
    for k, v in efl.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_state_dict_resume_is_exact():
    c = 5
    a = EqualizedFocalLoss(num_classes=c)
    qa = EqualizedQualityFocalLoss(num_classes=c)
    for seed in range(3):
        z, labels, w, score = make_case(n=32, c=c, seed=40 + seed)
        grad_of(lambda x: a(x, labels, w, avg_factor=3.), z)
        grad_of(lambda x: qa(x, (labels, score), w, avg_factor=3.), z)
    # a checkpoint taken mid-step (pending statistics) resumes exactly too
    z, labels, w, score = make_case(n=32, c=c, seed=43)
    with torch.no_grad():
        a(z, labels, w)
    b = EqualizedFocalLoss(num_classes=c)
    b.load_state_dict(a.state_dict())
    qb = EqualizedQualityFocalLoss(num_classes=c)
    qb.load_state_dict(qa.state_dict())
    for seed in range(2):
        z, labels, w, score = make_case(n=32, c=c, seed=50 + seed)
        for x, y in ((a, b), (qa, qb)):
            tgt = labels if x is a else (labels, score)
            oa, ga = grad_of(lambda v: x(v, tgt, w, avg_factor=3.), z)
            ob, gb = grad_of(lambda v: y(v, tgt, w, avg_factor=3.), z)
            assert torch.equal(oa, ob) and torch.equal(ga, gb)
    for x, y in ((a, b), (qa, qb)):
        for k, v in x.state_dict().items():
            assert torch.equal(v, y.state_dict()[k]), k
    assert (a.pos_neg < 1).any()


def test_group_weight_stats():
    efl = EqualizedFocalLoss(num_classes=4)
    set_ratio(efl, [0.0, 0.5, 1.0, 0.25])
    stats = efl.group_weight_stats(['r', 'c', 'f', 'r'])
    assert stats['gamma_r'] == pytest.approx((10 + 8) / 2)
    assert stats['weight_c'] == pytest.approx(3.0)
    assert stats['gamma_f'] == pytest.approx(2.0)
    assert stats['grad_ratio_r'] == pytest.approx(0.125)
    assert efl.log_name == 'efl'
    q = EqualizedQualityFocalLoss(num_classes=2, scale_factor=4.0)
    set_ratio(q, [0.0, 1.0])
    assert q.group_weight_stats({'all': [0, 1]}) == pytest.approx(
        {'gamma_all': 4.0, 'weight_all': 2.0, 'grad_ratio_all': 0.5})
    assert q.log_name == 'eqfl'


def test_empty_batch():
    for loss_cls, tgt in [
        (EqualizedFocalLoss(num_classes=3), torch.zeros(0,
                                                        dtype=torch.long)),
        (EqualizedQualityFocalLoss(num_classes=3),
         (torch.zeros(0, dtype=torch.long), torch.zeros(0))),
    ]:
        z = torch.zeros(0, 3, requires_grad=True)
        out = loss_cls.train()(z, tgt, torch.zeros(0), avg_factor=0.)
        out.backward()
        assert out.item() == 0 and torch.isfinite(loss_cls.pos_neg).all()


def test_errors():
    efl = EqualizedFocalLoss(num_classes=4)
    with pytest.raises(ValueError, match='bbox_head.loss_cls.num_classes'):
        efl(torch.zeros(2, 5), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match=r'shape \[N, C\]'):
        efl(torch.zeros(2, 4, 1), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match='target must be labels'):
        efl(torch.zeros(2, 4), torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match='weight must have shape'):
        efl(torch.zeros(2, 4), torch.tensor([0, 4]), torch.ones(3))
    with pytest.raises(ValueError, match='avg_factor can not be used'):
        efl(torch.zeros(2, 4), torch.tensor([0, 4]), avg_factor=2.,
            reduction_override='sum')
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        EqualizedFocalLoss(num_classes=4, use_sigmoid=False)
    with pytest.raises(ValueError, match='activated'):
        EqualizedQualityFocalLoss(num_classes=4, activated=True)
    with pytest.raises(ValueError, match='alpha'):
        EqualizedFocalLoss(num_classes=4, alpha=1.5)
    eqfl = EqualizedQualityFocalLoss(num_classes=4)
    with pytest.raises(ValueError, match='labels, scores'):
        eqfl(torch.zeros(2, 4), torch.zeros(2, 3))  # soft: [N, C] only
    with pytest.raises(ValueError, match='bbox_head.loss_cls.num_classes'):
        eqfl(torch.zeros(2, 3), (torch.tensor([0, 4]), torch.zeros(2)))
    with pytest.raises(ValueError, match='weight must have shape'):
        eqfl(torch.zeros(2, 4), (torch.tensor([0, 4]), torch.zeros(2)),
             torch.ones(2, 4))


# ------------------------------------------------- drop-in in dense heads
def _retina(loss_cls, c):
    from mmengine.config import ConfigDict
    from mmdet.models.dense_heads import RetinaHead
    train_cfg = ConfigDict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                      neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1,
        pos_weight=-1, debug=False)
    return RetinaHead(
        num_classes=c, in_channels=4, feat_channels=4, stacked_convs=1,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=1, ratios=[0.5, 1.0],
                              strides=[8, 16, 32]),
        loss_cls=loss_cls, train_cfg=train_cfg)


def _gfl(loss_cls, c):
    from mmengine.config import ConfigDict
    from mmdet.models.dense_heads import GFLHead
    train_cfg = ConfigDict(assigner=dict(type='ATSSAssigner', topk=9),
                           allowed_border=-1, pos_weight=-1, debug=False)
    return GFLHead(
        num_classes=c, in_channels=4, feat_channels=4, stacked_convs=1,
        norm_cfg=dict(type='GN', num_groups=2, requires_grad=True),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        anchor_generator=dict(type='AnchorGenerator', ratios=[1.0],
                              octave_base_scale=8, scales_per_octave=1,
                              strides=[8, 16, 32]),
        loss_cls=loss_cls, train_cfg=train_cfg)


@pytest.mark.parametrize('kind', ['retina', 'gfl'])
def test_drop_in_dense_head(kind):
    from mmengine.structures import InstanceData
    torch.manual_seed(11)
    c = 6
    if kind == 'retina':
        build = _retina
        ours = dict(type='EFL', num_classes=c, use_sigmoid=True, gamma=2.0,
                    alpha=0.25, loss_weight=1.0)
        base = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                    alpha=0.25, loss_weight=1.0)
    else:
        build = _gfl
        ours = dict(type='EQFL', num_classes=c, use_sigmoid=True, beta=2.0,
                    loss_weight=1.0)
        base = dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                    loss_weight=1.0)
    head, ref = build(ours, c), build(base, c)
    ref.load_state_dict(head.state_dict(), strict=False)
    metas = [dict(img_shape=(96, 96), pad_shape=(96, 96), scale_factor=1)]
    feats = [torch.rand(1, 4, 96 // s, 96 // s) for s in (8, 16, 32)]
    gt = InstanceData(bboxes=torch.tensor([[4., 6., 50., 60.],
                                           [30., 20., 90., 70.]]),
                      labels=torch.tensor([1, 4]))

    def run(h):
        return h.loss_by_feat(*h(feats), [gt], metas)

    ours_l, ref_l = run(head.train()), run(ref.train())
    assert len(ours_l['loss_cls']) == 3  # one call per level
    for a, b in zip(ours_l['loss_cls'], ref_l['loss_cls']):
        torch.testing.assert_close(a, b)
    loss_mod = head.loss_cls
    assert (loss_mod.pos_neg == 1).all()
    sum(ours_l['loss_cls']).backward()
    assert (loss_mod.pending_grad == 0).all()
    assert loss_mod.pos_grad[[1, 4]].gt(0).all()
    assert loss_mod.pos_grad[[0, 2, 3, 5]].eq(0).all()
    assert (loss_mod.pos_neg[[0, 2, 3, 5]] == 0).all()
    # classes without positives: gamma = 2 + 8, weighting factor 5
    assert torch.allclose(loss_mod.focusing_factor()[[0, 2, 3, 5]],
                          torch.tensor(10., dtype=torch.float64))
    # the next step uses the new g; a head restored from the state_dict
    # (loss buffers included) computes the same
    resumed = build(ours, c)
    resumed.load_state_dict(head.state_dict())
    ours2, res2, ref2 = run(head), run(resumed), run(ref)
    for a, b, r in zip(ours2['loss_cls'], res2['loss_cls'],
                       ref2['loss_cls']):
        assert torch.equal(a, b) and not torch.allclose(a, r)
