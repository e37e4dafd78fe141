"""Time GroupSoftmaxLoss (BAGS) forward+backward against mmdet's softmax
CrossEntropyLoss in the same run.

Setting of an LVIS v1 R-CNN step: N RoIs (default 16 images x 512 = 8192),
25% foreground with uniform random classes, 75% background (label C),
all-ones label weights and ``avg_factor = N`` as ``BBoxHead.loss`` passes
them.  Groups come from an LVIS-v1-like instance-count table with the v1
group sizes of the eqlv2 repo's re-implementation (200 / 412 / 334 / 257
classes in <10, [10,100), [100,1000), >=1000), so BAGS gets 1203 + 1 + 5 =
1209 logits and CE 1204.  The BAGS step includes the "others" sampling and
the per-group losses summed for backward; ``get_activation`` (test-time
merge) is timed separately against ``softmax``.

Each pair is timed in alternating blocks (``--warmup`` untimed steps, then
``--repeats`` blocks of ``--iters`` steps each); the median per step is
reported.

Usage: python tools/benchmark/bags_speed.py [--rois 8192] [--classes 1203]
       [--device cpu|cuda] [--threads T]
"""
import argparse
import statistics
import time

import torch


def lvis_v1_like_counts(num_classes: int, seed: int = 0):
    """Instance counts with LVIS v1's BAGS group proportions."""
    g = torch.Generator().manual_seed(seed)
    sizes = [200, 412, 334, 257]
    total = sum(sizes)
    sizes = [s * num_classes // total for s in sizes]
    sizes[-1] += num_classes - sum(sizes)
    ranges = [(1, 10), (10, 100), (100, 1000), (1000, 50000)]
    counts = torch.cat([
        torch.randint(lo, hi, (n, ), generator=g)
        for n, (lo, hi) in zip(sizes, ranges)
    ])
    return counts[torch.randperm(num_classes, generator=g)].tolist()


def make_labels(n: int, num_classes: int, device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.full((n, ), num_classes, dtype=torch.long)
    num_fg = n // 4
    labels[:num_fg] = torch.randint(0, num_classes, (num_fg, ), generator=g)
    return labels[torch.randperm(n, generator=g)].to(device)


def timed_pair(step_a, step_b, sync, warmup, repeats, iters):
    """Median seconds per step of ``step_a`` and ``step_b``, timed in
    alternating blocks so that both see the same machine load."""
    for _ in range(warmup):
        step_a()
        step_b()
    sync()
    times = ([], [])
    for _ in range(repeats):
        for step, out in ((step_a, times[0]), (step_b, times[1])):
            t0 = time.perf_counter()
            for _ in range(iters):
                step()
            sync()
            out.append((time.perf_counter() - t0) / iters)
    return statistics.median(times[0]), statistics.median(times[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rois', type=int, default=8192)
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--iters', type=int, default=5)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import mmlt  # noqa: F401  (registers the loss)
    from mmdet.registry import MODELS

    dev = torch.device(args.device)
    c, n = args.classes, args.rois
    bags = MODELS.build(
        dict(
            type='GroupSoftmaxLoss',
            label_mapping=dict(
                type='GroupSoftmaxLabelMapping',
                instance_counts=lvis_v1_like_counts(c)))).to(dev)
    ce = MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=False))
    k = bags.label_mapping.num_channels
    labels = make_labels(n, c, dev)
    weight = torch.ones(n, device=dev)
    torch.manual_seed(0)
    z_bags = torch.randn(n, k, device=dev, requires_grad=True)
    z_ce = torch.randn(n, c + 1, device=dev, requires_grad=True)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)

    def step_bags():
        z_bags.grad = None
        out = bags(z_bags, labels, weight, avg_factor=float(n))
        sum(out.values()).backward()

    def step_ce():
        z_ce.grad = None
        ce(z_ce, labels, weight, avg_factor=float(n)).backward()

    def merge():
        with torch.no_grad():
            bags.get_activation(z_bags)

    def softmax():
        with torch.no_grad():
            z_ce.softmax(-1)

    kw = dict(warmup=args.warmup, repeats=args.repeats, iters=args.iters)
    t_ce, t_bags = timed_pair(step_ce, step_bags, sync, **kw)
    t_sm, t_merge = timed_pair(softmax, merge, sync, **kw)
    print(f'device {dev}, threads {torch.get_num_threads()}, RoIs {n}, '
          f'classes {c}, groups {bags.label_mapping.num_groups} '
          f'(sizes {bags.label_mapping.group_sizes[1:]}), logits {k} vs '
          f'{c + 1}')
    print(f'train fwd+bwd  CrossEntropyLoss {t_ce * 1e3:8.2f} ms   '
          f'GroupSoftmaxLoss {t_bags * 1e3:8.2f} ms   ratio '
          f'{t_bags / t_ce:.2f}x')
    print(f'test scores    softmax          {t_sm * 1e3:8.2f} ms   '
          f'merge_scores     {t_merge * 1e3:8.2f} ms   ratio '
          f'{t_merge / t_sm:.2f}x')
    return dict(ce=t_ce, bags=t_bags, softmax=t_sm, merge=t_merge)


if __name__ == '__main__':
    main()
