"""Time EFL / EQFL forward+backward against mmdet's FocalLoss / QFL.

Setting of a dense LVIS v1 head step as ``AnchorHead.loss_by_feat_single``
calls the classification loss: ``--anchors`` anchors (default 100k, about
one 800x1333 image of RetinaNet) x ``--classes`` (1203) sigmoid logits
(prior-initialised, ``randn * 2 - 4.6``), 0.2% positives with uniform
random classes, 1% ignored anchors (label weight 0, label C), the rest
background (label C), ``label_weights`` [N] and ``avg_factor = #pos``.
QFL / EQFL get ``(labels, IoU scores)`` as ``GFLHead`` passes them.

Baselines, measured in the same run: mmdet's ``FocalLoss`` (on CPU its
pure-PyTorch ``py_sigmoid_focal_loss`` path, one-hot targets included;
mmcv's compiled ``sigmoid_focal_loss`` op has no CPU kernel, on CUDA mmdet
uses it and it is timed as well) and ``QualityFocalLoss``.  EFL / EQFL run
in training mode (statistics, all-reduce no-op, fold at backward included)
with per-class ``g`` spread over [0, 1], so the focusing factors differ
per class.  ``--naive`` adds a tensor-by-tensor EFL (one-hot, ``pow`` with
per-class exponents, autograd, statistics from full-size tensors).

Each measurement: ``--warmup`` untimed steps, then ``--repeats`` timings of
``--iters`` steps each; the median per step is reported.

Usage: python tools/benchmark/efl_speed.py [--anchors 100000]
       [--classes 1203] [--device cpu|cuda] [--threads T] [--budget 1.3]
"""
import argparse
import os.path as osp
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from eql_speed import time_step  # noqa: E402


def make_targets(n: int, num_classes: int, device, seed: int = 0):
    """labels [N] (C = background), label weights [N], IoU scores [N]."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.full((n, ), num_classes, dtype=torch.long)
    weight = torch.ones(n)
    perm = torch.randperm(n, generator=g)
    num_pos = max(1, n // 500)
    num_ign = n // 100
    pos = perm[:num_pos]
    labels[pos] = torch.randint(0, num_classes, (num_pos, ), generator=g)
    weight[perm[num_pos:num_pos + num_ign]] = 0
    score = torch.zeros(n)
    score[pos] = torch.rand(num_pos, generator=g) * 0.7 + 0.3
    return labels.to(device), weight.to(device), score.to(device), num_pos


def spread_ratio(loss, seed: int = 2):
    """Statistics whose ratio g is uniform in [0, 1] per class."""
    g = torch.Generator().manual_seed(seed)
    c = loss.num_classes
    ratio = torch.rand(c, generator=g, dtype=torch.float64)
    loss.neg_grad.fill_(1e3)
    loss.pos_grad.copy_(ratio * 1e3)
    loss.pos_neg.copy_(ratio)


class NaiveEFL:
    """One-hot targets, per-class ``pow``, autograd; statistics from
    full-size tensors (not exact for the focal term, for timing only)."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, z, labels, weight, avg_factor):
        n, c = z.shape
        gamma = self.loss.focusing_factor().to(z)
        wf = gamma / self.loss.gamma
        y = F.one_hot(labels, c + 1)[:, :c].to(z)
        p = z.sigmoid()
        pt = (1 - p) * y + p * (1 - y)
        alpha_t = 0.25 * y + 0.75 * (1 - y)
        loss = F.binary_cross_entropy_with_logits(
            z, y, reduction='none') * alpha_t * wf * pt.pow(gamma)
        out = (loss * weight[:, None]).sum() / avg_factor
        with torch.no_grad():
            grad = (p - y).abs() * alpha_t * wf * pt.pow(gamma) * \
                weight[:, None] / avg_factor
            self.loss.pos_grad += (grad * y).sum(0).double()
            self.loss.neg_grad += (grad * (1 - y)).sum(0).double()
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--anchors', type=int, default=100000)
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads',
                        type=int,
                        default=None,
                        help='torch.set_num_threads (default: as is)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--iters', type=int, default=1)
    parser.add_argument('--budget',
                        type=float,
                        default=1.3,
                        help='max allowed ratio to the baseline (exit 1)')
    parser.add_argument('--naive',
                        action='store_true',
                        help='also time a tensor-by-tensor EFL')
    parser.add_argument('--no-qfl',
                        action='store_true',
                        help='skip the QFL / EQFL pair')
    args = parser.parse_args()

    import mmlt  # noqa: F401  (registers the losses)
    from mmdet.registry import MODELS

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    n, c = args.anchors, args.classes
    labels, weight, score, num_pos = make_targets(n, c, dev)
    g = torch.Generator().manual_seed(1)
    z = (torch.randn(n, c, generator=g) * 2 - 4.6).to(dev).requires_grad_()

    focal = MODELS.build(dict(type='FocalLoss', use_sigmoid=True))
    efl = MODELS.build(dict(type='EqualizedFocalLoss',
                            num_classes=c)).to(dev).train()
    spread_ratio(efl)
    cases = [('FocalLoss (mmdet)', 'focal', focal, labels),
             ('EFL (mmlt)', 'focal', efl, labels)]
    mmcv_note = 'mmcv sigmoid_focal_loss op: '
    if dev.type == 'cuda':
        from mmdet.models.losses.focal_loss import sigmoid_focal_loss

        def mmcv_focal(z, labels, weight, avg_factor):
            return sigmoid_focal_loss(z, labels, weight, avg_factor=avg_factor)

        cases.insert(1, ('FocalLoss (mmcv op)', None, mmcv_focal, labels))
        mmcv_note += 'timed (mmdet uses it for CUDA tensors)'
    else:
        mmcv_note += ('no CPU kernel in mmcv 2.1 (mmdet uses it only for '
                      'CUDA tensors); CPU baseline = py_sigmoid_focal_loss')
    if args.naive:
        naive_loss = MODELS.build(dict(type='EFL', num_classes=c)).to(dev)
        spread_ratio(naive_loss)
        cases.append(('EFL (tensor-by-tensor)', 'focal',
                      NaiveEFL(naive_loss), labels))
    if not args.no_qfl:
        qfl = MODELS.build(dict(type='QualityFocalLoss', use_sigmoid=True))
        eqfl = MODELS.build(dict(type='EQFL', num_classes=c)).to(dev).train()
        spread_ratio(eqfl)
        cases += [('QualityFocalLoss (mmdet)', 'quality', qfl,
                   (labels, score)),
                  ('EQFL (mmlt)', 'quality', eqfl, (labels, score))]

    res = []
    for name, kind, fn, target in cases:
        t = time_step(fn, z, target, weight, float(num_pos), args.warmup,
                      args.repeats, args.iters)
        res.append((name, kind, t))
    base = {k: t for name, k, t in res if name.endswith('(mmdet)')}
    print(f'device={dev} threads={torch.get_num_threads()} anchors={n} '
          f'classes={c} pos={num_pos} torch={torch.__version__}; median of '
          f'{args.repeats} x {args.iters} fwd+bwd steps after {args.warmup} '
          'warm-up')
    print(f'  {mmcv_note}')
    ok = True
    for name, kind, t in res:
        line = f'  {name:<26s} {n}x{c}: {t * 1e3:9.1f} ms'
        if kind is not None:
            ratio = t / base[kind]
            ref = 'FocalLoss' if kind == 'focal' else 'QFL'
            line += f'  {ratio:5.2f}x {ref}'
            if 'mmlt' in name and ratio > args.budget:
                ok = False
        print(line)
    print('OK' if ok else f'FAIL: above {args.budget}x the mmdet baseline')
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    main()
