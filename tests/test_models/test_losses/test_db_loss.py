"""DistributionBalancedLoss: re-balanced weights, NTR bias, CB weights,
each option's value and gradient against hand computations, defaults,
errors and mmdet's call convention."""
import math

import numpy as np
import pytest
import torch

import mmlt  # noqa: F401
from mmdet.registry import MODELS

# 3 classes with n = 2, 4, 8 positive images out of N = 10
FREQ = [2, 4, 8]
N = 10
# hand-made label matrix: a single-label row, two mixed rows, an empty row
Y = [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 0]]
Z = [[0.3, -1.2, 0.5], [2.0, 0.1, -0.7], [-0.4, 1.5, 0.9],
     [0.2, -0.3, 1.1]]


def build(**kw):
    cfg = dict(type='DistributionBalancedLoss', class_freq=FREQ,
               num_images=N)
    cfg.update(kw)
    return MODELS.build(cfg)


def sig(x):
    return 1 / (1 + math.exp(-x))


def softplus(x):
    return math.log1p(math.exp(x))


def bce(z, y):
    return softplus(z) - y * z


# ------------------------------------------------------------- weights
def test_rebalanced_weights_by_hand():
    loss = build(map_param=dict(alpha=0.1, beta=10.0, gamma=0.2))
    w = loss.rebalance_weight(torch.tensor(Y, dtype=torch.float64))
    inv = [1 / 2, 1 / 4, 1 / 8]
    # r_ic = (1/n_c) / sum_{k in y_i} 1/n_k
    r = [[1.0, 0.5, 0.25],                                # row 0: 1/2
         [(1 / 2) / 0.75, (1 / 4) / 0.75, (1 / 8) / 0.75],  # 1/2 + 1/4
         [(1 / 2) / 0.375, (1 / 4) / 0.375, (1 / 8) / 0.375]]
    for i in range(3):
        assert sum(inv[c] for c in range(3) if Y[i][c]) > 0
        for c in range(3):
            assert w[i, c].item() == pytest.approx(
                0.1 + sig(10 * (r[i][c] - 0.2)), abs=1e-12)
    # an image without positives: r = inf -> alpha + 1 (the original's x/0)
    assert torch.allclose(w[3], torch.full((3, ), 1.1, dtype=w.dtype))
    # row 1: r = 2/3, 1/3, 1/6 -> 0.1 + sigmoid(4.667), (1.333), (-0.333)
    assert w[1].tolist() == pytest.approx(
        [0.1 + sig(10 * (2 / 3 - 0.2)), 0.1 + sig(10 * (1 / 3 - 0.2)),
         0.1 + sig(10 * (1 / 6 - 0.2))])


def test_ntr_bias_values():
    loss = build(logit_reg=dict(neg_scale=2.0, init_bias=0.05))
    # b_c = -(kappa / lambda) log(N / n_c - 1) = -0.025 log(4, 1.5, 0.25)
    expected = [-0.025 * math.log(4), -0.025 * math.log(1.5),
                0.025 * math.log(4)]
    assert loss.ntr_bias.tolist() == pytest.approx(expected, abs=1e-7)
    assert expected == pytest.approx([-0.0346574, -0.0101366, 0.0346574],
                                     abs=1e-7)
    # VOC values: kappa 0.05, lambda 5
    voc = build(logit_reg=dict(neg_scale=5.0, init_bias=0.05))
    assert voc.ntr_bias[0].item() == pytest.approx(-0.01 * math.log(4))
    # NTR logits: positives z + b, negatives lambda (z + b)
    z = torch.tensor(Z, dtype=torch.float64)
    y = torch.tensor(Y, dtype=torch.float64)
    z2, w2 = loss.ntr(z, y, None)
    for i in range(4):
        for c in range(3):
            zb = Z[i][c] + expected[c]
            assert z2[i, c].item() == pytest.approx(
                zb if Y[i][c] else 2 * zb)
            assert w2[i, c].item() == (1.0 if Y[i][c] else 0.5)
    # no in-place change of the logits (the original's `logits +=`)
    assert torch.equal(z, torch.tensor(Z, dtype=torch.float64))


def test_cb_weights_by_hand():
    eff = [0.1 / (1 - 0.9**n) for n in FREQ]
    assert eff == pytest.approx([0.526316, 0.290782, 0.175582], abs=1e-6)
    y = torch.tensor(Y, dtype=torch.float64)
    by_class = build(reweight_func='CB',
                     CB_loss=dict(CB_beta=0.9, CB_mode='by_class'))
    assert by_class.cb_weight(y).tolist() == pytest.approx(eff)
    avg_w = build(reweight_func='CB').cb_weight(y)  # default average_w
    assert avg_w[:, 0].tolist() == pytest.approx([
        eff[0], (eff[0] + eff[1]) / 2, (eff[1] + eff[2]) / 2,
        0.1 / (1 - 0.9**N)
    ])
    avg_n = build(reweight_func='CB',
                  CB_loss=dict(CB_beta=0.9, CB_mode='average_n')).cb_weight(y)
    assert avg_n[1, 0].item() == pytest.approx(0.1 / (1 - 0.9**3))
    min_n = build(reweight_func='CB',
                  CB_loss=dict(CB_beta=0.9, CB_mode='min_n')).cb_weight(y)
    assert min_n[:3, 0].tolist() == pytest.approx([eff[0], eff[0], eff[1]])
    inv = build(reweight_func='inv').reweight(y)
    assert inv.tolist() == pytest.approx([5.0, 2.5, 1.25])
    sqrt_inv = build(reweight_func='sqrt_inv').reweight(y)
    assert sqrt_inv.tolist() == pytest.approx(
        [math.sqrt(5), math.sqrt(2.5), math.sqrt(1.25)])
    inst = build(reweight_func='inv', weight_norm='by_instance').reweight(y)
    assert inst[0].tolist() == pytest.approx([1.0, 0.5, 0.25])


# ---------------------------------------------------- values, gradients
def hand_loss(kind):
    """(mean loss, d loss / d z) computed element by element."""
    alpha, beta, mu, lam, kappa, gam, bal = 0.1, 10.0, 0.2, 2.0, 0.05, 2, 2
    B, C = len(Y), len(FREQ)
    bias = [-(kappa / lam) * math.log(N / n - 1) for n in FREQ]
    total, grad = 0.0, [[0.0] * C for _ in range(B)]
    for i in range(B):
        rr = sum(1 / FREQ[c] for c in range(C) if Y[i][c])
        for c in range(C):
            y = Y[i][c]
            w = 1.0
            if kind in ('rbce_focal', 'db_focal'):
                r = (1 / FREQ[c]) / rr if rr > 0 else math.inf
                w = alpha + (sig(beta * (r - mu)) if rr > 0 else 1.0)
            elif kind == 'cb_focal':
                effs = [0.1 / (1 - 0.9**FREQ[k]) for k in range(C)
                        if Y[i][k]]
                w = sum(effs) / len(effs) if effs else 0.1 / (1 - 0.9**N)
            z, dz = Z[i][c], 1.0
            if kind in ('ntr_focal', 'db_focal'):
                z = z + bias[c]
                if not y:
                    z, dz, w = lam * z, lam, w / lam
            b = bce(z, y)
            db = sig(z) - y  # d BCE / d z
            if kind == 'bce':
                total += w * b
                grad[i][c] = w * db * dz
            else:
                pt = math.exp(-b)
                total += bal * (1 - pt)**gam * w * b
                # d/dBCE [(1 - e^-b)^g b] = (1-pt)^g + g (1-pt)^(g-1) pt b
                dl = bal * w * ((1 - pt)**gam + gam *
                                (1 - pt)**(gam - 1) * pt * b)
                grad[i][c] = dl * db * dz
    n = B * C
    return total / n, [[g / n for g in row] for row in grad]


CASES = {
    'bce': dict(reweight_func=None, focal=dict(focal=False),
                logit_reg=dict()),
    'focal': dict(reweight_func=None, logit_reg=dict()),
    'cb_focal': dict(reweight_func='CB', logit_reg=dict()),
    'rbce_focal': dict(reweight_func='rebalance', logit_reg=dict()),
    'ntr_focal': dict(reweight_func=None),
    'db_focal': dict(),  # the defaults
}


@pytest.mark.parametrize('kind', list(CASES))
def test_value_and_gradient_vs_hand(kind):
    loss = build(**CASES[kind])
    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(Y, dtype=torch.float64)
    out = loss(z, y)
    out.backward()
    value, grad = hand_loss(kind)
    assert out.item() == pytest.approx(value, rel=1e-10)
    assert z.grad.numpy() == pytest.approx(np.array(grad), rel=1e-8,
                                           abs=1e-14)


def test_defaults_are_the_config_values():
    loss = build()
    assert loss.reweight_func == 'rebalance'
    assert (loss.map_alpha, loss.map_beta, loss.map_gamma) == (0.1, 10.0,
                                                               0.2)
    assert (loss.init_bias, loss.neg_scale) == (0.05, 2.0)
    assert loss.focal and (loss.gamma, loss.balance_param) == (2.0, 2.0)
    assert loss.num_classes == 3 and loss.num_images == N


def test_call_convention_weight_avg_factor_reduction():
    loss = build(**CASES['focal'])
    torch.manual_seed(0)
    z = torch.randn(4, 3)
    y = torch.tensor(Y, dtype=torch.float32)
    per_elem = loss(z, y, reduction_override='none')
    assert per_elem.shape == (4, 3)
    assert loss(z, y).item() == pytest.approx(per_elem.mean().item())
    assert loss(z, y, reduction_override='sum').item() == pytest.approx(
        per_elem.sum().item(), rel=1e-6)
    w = torch.tensor([1., 0., 2., 1.])  # per-sample weight
    assert loss(z, y, weight=w, avg_factor=5.).item() == pytest.approx(
        (per_elem * w[:, None]).sum().item() / 5, rel=1e-5)
    # fp16 logits are computed in fp32
    half = loss(z.half(), y.half())
    assert half.dtype == torch.float32
    assert half.item() == pytest.approx(loss(z, y).item(), rel=1e-2)
    scaled = build(loss_weight=3.0, **CASES['focal'])
    assert scaled(z, y).item() == pytest.approx(3 * loss(z, y).item())


def test_matches_original_semantics_on_random_batch():
    """Vectorised re-derivation of the original's forward (in-place bias,
    neg_scale mixing, focal with the unweighted p_t) on a random batch."""
    g = torch.Generator().manual_seed(1)
    C, B = 6, 16
    freq = torch.tensor([50., 30., 12., 6., 3., 1.])
    n_img = 100.
    y = (torch.rand(B, C, generator=g) < 0.3).double()
    y[:, 0] = 1  # every row has a positive
    z = torch.randn(B, C, generator=g).double()
    loss = MODELS.build(dict(type='DistributionBalancedLoss',
                             class_freq=freq.tolist(), num_images=n_img))
    inv = 1 / freq.double()
    w = torch.sigmoid(10 * (inv / (y * inv).sum(1, keepdim=True) - 0.2)) \
        + 0.1
    zz = z + (-torch.log(n_img / freq.double() - 1) * 0.05 / 2)
    zz = zz * (1 - y) * 2 + zz * y
    w = w / 2 * (1 - y) + w * y
    b = torch.nn.functional.binary_cross_entropy_with_logits(
        zz, y, reduction='none')
    ref = (2 * (1 - torch.exp(-b))**2 * b * w).mean()
    # (statistics are float32 buffers)
    assert loss(z, y).item() == pytest.approx(ref.item(), rel=1e-7)


def test_errors():
    with pytest.raises(ValueError, match=r"1 class\(es\) \[1\].*no positive"):
        MODELS.build(dict(type='DistributionBalancedLoss',
                          class_freq=[3, 0, 2], num_images=5))
    with pytest.raises(ValueError, match='in every training image'):
        MODELS.build(dict(type='DistributionBalancedLoss',
                          class_freq=[5, 1, 2], num_images=5))
    with pytest.raises(ValueError, match='needs class statistics'):
        MODELS.build(dict(type='DistributionBalancedLoss', num_classes=3))
    with pytest.raises(ValueError, match='reweight_func'):
        build(reweight_func='bogus')
    with pytest.raises(ValueError, match='num_images'):
        MODELS.build(dict(type='DistributionBalancedLoss', class_freq=[1]))
    with pytest.raises(FileNotFoundError, match='loss_cls.freq_file'):
        MODELS.build(dict(type='DistributionBalancedLoss',
                          freq_file='/nonexistent/class_freq.json'))
    loss = build()
    with pytest.raises(ValueError, match='multi-hot'):
        loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\[B, 3\]'):
        loss(torch.zeros(2, 4), torch.zeros(2, 4))
    # zero-count classes are fine when no statistic is used (BCE/focal)
    plain = MODELS.build(dict(type='DistributionBalancedLoss',
                              reweight_func=None, logit_reg=dict(),
                              class_freq=[3, 0, 2], num_images=5))
    assert torch.isfinite(plain(torch.zeros(2, 3), torch.zeros(2, 3)))
    # NTR without a re-weighting (the original crashes on None / lambda)
    ntr = build(reweight_func=None)
    assert torch.isfinite(ntr(torch.zeros(2, 3), torch.ones(2, 3)))


def test_statistics_from_files(tmp_path):
    import json
    path = tmp_path / 'class_freq.json'
    path.write_text(json.dumps(dict(class_freq=FREQ,
                                    neg_class_freq=[N - n for n in FREQ])))
    a = MODELS.build(dict(type='DistributionBalancedLoss',
                          freq_file=str(path)))
    b = build()
    assert torch.equal(a.ntr_bias, b.ntr_bias)
    assert torch.equal(a.class_freq, b.class_freq)
    # the original's pickle works too
    import pickle
    pkl = tmp_path / 'class_freq.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(dict(class_freq=np.array(FREQ),
                         neg_class_freq=np.array([N - n for n in FREQ]),
                         gt_labels=np.zeros((N, 3))), f)
    c = MODELS.build(dict(type='DistributionBalancedLoss',
                          freq_file=str(pkl)))
    assert torch.equal(c.ntr_bias, b.ntr_bias)
