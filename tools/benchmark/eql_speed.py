"""Time EQL / EQLv2 forward+backward against mmdet's sigmoid BCE.

Setting of an LVIS v1 R-CNN step: N = 1024 RoIs (2 images x 512), 25%
foreground with uniform random classes, 75% background (label C), per-RoI
label weights of 1 and ``avg_factor = N``, exactly as ``BBoxHead.loss``
calls the classification loss.  Logit widths: C = 1203 for EQL, C+1 = 1204
for EQLv2; the baseline ``CrossEntropyLoss(use_sigmoid=True)`` is timed at
both widths in the same run.  EQLv2 runs in training mode, so its
statistics update is included; EQL uses an LVIS-v1-like frequency table
(815 tail classes, as with the real table at lambda = 0.0011).

For reference the script also times a straightforward tensor-by-tensor
version of each formula (one-hot targets, full weight matrix, BCE,
statistics from full-size tensors).

Each measurement: ``--warmup`` untimed steps, then ``--repeats`` timings of
``--iters`` steps each; the median per step is reported.  Threads are left
as torch sets them (``torch.get_num_threads()`` is printed).

Usage: python tools/benchmark/eql_speed.py [--rois 1024] [--classes 1203]
       [--device cpu|cuda] [--threads T] [--budget 1.3]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def lvis_like_freq(num_classes: int, num_tail: int, seed: int = 0):
    """Image frequencies with ``num_tail`` classes below 0.0011."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(num_classes, generator=g)
    freq = torch.empty(num_classes, dtype=torch.float64)
    freq[perm[:num_tail]] = torch.rand(
        num_tail, generator=g, dtype=torch.float64) * 0.001
    freq[perm[num_tail:]] = 0.0012 + torch.rand(
        num_classes - num_tail, generator=g, dtype=torch.float64) * 0.1
    return freq.tolist()


def make_labels(n: int, num_classes: int, device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.full((n, ), num_classes, dtype=torch.long)
    num_fg = n // 4
    labels[:num_fg] = torch.randint(0, num_classes, (num_fg, ), generator=g)
    return labels[torch.randperm(n, generator=g)].to(device)


class NaiveEQL:
    """w = 1 - E T (1 - y); sum(w * BCE) / N with full-size tensors."""

    def __init__(self, tail):
        self.tail = tail.float()

    def __call__(self, z, labels, weight, avg_factor):
        n, c = z.shape
        y = z.new_zeros(n, c + 1)
        y[torch.arange(n, device=z.device), labels] = 1
        y = y[:, :c]
        e = (labels != c).float()[:, None].expand(n, c)
        t = self.tail[None, :].expand(n, c)
        w = 1 - e * t * (1 - y)
        loss = F.binary_cross_entropy_with_logits(z, y, reduction='none')
        return (loss * w * weight[:, None]).sum() / avg_factor


class NaiveEQLv2:
    """Weights from buffers, BCE, then statistics from full-size tensors."""

    def __init__(self, num_classes, device):
        self.pos_grad = torch.zeros(num_classes, device=device)
        self.neg_grad = torch.zeros(num_classes, device=device)
        self.ratio = torch.full((num_classes, ), 100., device=device)

    def __call__(self, z, labels, weight, avg_factor):
        n, c = z.shape
        y = z.new_zeros(n, c)
        y[torch.arange(n, device=z.device), labels] = 1
        neg_w = torch.cat(
            [torch.sigmoid(12 * (self.ratio - 0.8)),
             z.new_ones(1)])
        pos_w = 1 + 4 * (1 - neg_w)
        w = pos_w[None] * y + neg_w[None] * (1 - y)
        loss = F.binary_cross_entropy_with_logits(z, y, reduction='none')
        out = (loss * w * weight[:, None]).sum() / avg_factor
        with torch.no_grad():
            p = torch.sigmoid(z)
            grad = (y * (p - 1) + (1 - y) * p).abs()
            self.pos_grad += (grad * y * w).sum(0)[:-1]
            self.neg_grad += (grad * (1 - y) * w).sum(0)[:-1]
            self.ratio = self.pos_grad / (self.neg_grad + 1e-10)
        return out


def time_step(fn, z, labels, weight, avg_factor, warmup, repeats, iters):
    sync = torch.cuda.synchronize if z.is_cuda else (lambda: None)

    def step():
        z.grad = None
        fn(z, labels, weight, avg_factor=avg_factor).backward()

    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        sync()
        times.append((time.perf_counter() - t0) / iters)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rois', type=int, default=1024)
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--tail', type=int, default=815)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads',
                        type=int,
                        default=None,
                        help='torch.set_num_threads (default: as is)')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--budget',
                        type=float,
                        default=1.3,
                        help='max allowed ratio to BCE (exit 1 above)')
    parser.add_argument('--no-naive',
                        action='store_true',
                        help='skip the tensor-by-tensor reference versions')
    args = parser.parse_args()

    import mmlt  # noqa: F401  (registers the losses)
    from mmdet.registry import MODELS

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    n, c = args.rois, args.classes
    labels = make_labels(n, c, dev)
    weight = torch.ones(n, device=dev)
    freq = lvis_like_freq(c, args.tail)

    bce = MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=True))
    eql = MODELS.build(
        dict(type='EqualizationLoss', class_freq=freq, version='v1')).to(dev)
    eqlv2 = MODELS.build(dict(type='EqualizationLossV2',
                              num_classes=c)).to(dev).train()
    g = torch.Generator().manual_seed(1)
    z_c = (torch.randn(n, c, generator=g) * 2 - 4).to(dev).requires_grad_()
    z_c1 = (torch.randn(n, c + 1, generator=g) * 2 - 4).to(dev)
    z_c1.requires_grad_()

    cases = [
        ('BCE (mmdet, sigmoid)', bce, z_c),
        ('EQL (mmlt)', eql, z_c),
        ('BCE (mmdet, sigmoid)', bce, z_c1),
        ('EQLv2 (mmlt)', eqlv2, z_c1),
    ]
    if not args.no_naive:
        cases += [('EQL (tensor-by-tensor)', NaiveEQL(eql.tail_mask), z_c),
                  ('EQLv2 (tensor-by-tensor)', NaiveEQLv2(c, dev), z_c1)]
    res = {}
    for name, fn, z in cases:
        res[(name, z.shape[1])] = time_step(fn, z, labels, weight, float(n),
                                            args.warmup, args.repeats,
                                            args.iters)
    print(f'device={dev} threads={torch.get_num_threads()} rois={n} '
          f'torch={torch.__version__}; median of {args.repeats} x '
          f'{args.iters} fwd+bwd steps after {args.warmup} warm-up')
    ok = True
    for (name, width), t in res.items():
        base = res[('BCE (mmdet, sigmoid)', width)]
        ratio = t / base
        print(f'  {name:<28s} {n}x{width}: {t * 1e3:8.3f} ms  '
              f'{ratio:5.2f}x BCE')
        if 'mmlt' in name and ratio > args.budget:
            ok = False
    print('OK' if ok else f'FAIL: above {args.budget}x BCE')
    raise SystemExit(0 if ok else 1)


if __name__ == '__main__':
    main()
