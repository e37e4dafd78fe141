"""LOCE feature memory bank: bytes at LVIS settings and the cost of MFS
relative to one RoI-head forward.

(a) Bytes of a full bank at LVIS v1 settings (1203 classes, queue 80,
    256 x 7 x 7 features) for each storage dtype, computed from the shapes;
    then (unless ``--no-alloc``) the default fp16 bank is allocated once on
    the CPU and filled, and the process RSS growth is reported (after the
    first batch: only the pages written are committed; after filling every
    queue: the whole bank).
(b) Time per iteration of MFS -- ``generate`` (16 jittered boxes per GT,
    RoIAlign on the FPN levels, bbox-coder targets), ``enqueue`` (into the
    full CPU fp16 bank) and ``sample`` (8 classes x 4 features by 1/m) --
    against ONE RoI-head forward on the same batch: mmdet's
    ``SingleRoIExtractor`` (RoIAlign 7x7, strides 4-32) +
    ``Shared2FCBBoxHead`` (1203 classes, class-specific regression) on
    2 images x 512 RoIs over FPN features of an 800 x 1333 input (256
    channels), head in training mode, forward only (no_grad).  GTs:
    ``--gts`` per image (15 -> 2 x 15 x 16 = 480 memory features).  Each
    repeat times every case once, in turn (interleaved); medians are
    reported.
(c) Rounding of the stored features: relative L2 error of the features and
    of the head's class logits when the memory features go through fp16 /
    bf16 storage (random FPN features, randomly initialised head).

Usage: python tools/benchmark/memory_bank.py [--repeats 7] [--gts 15]
       [--scale 1.0] [--no-alloc] [--threads T]
(``--scale 0.5`` halves the input side if CPU time is short.)  Runtime on
one CPU thread: about a minute.
"""
import argparse
import statistics
import time

import torch


def rss_bytes() -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


def random_boxes(n, img_h, img_w, g, min_size=16., max_size=600.):
    """Boxes with log-uniform sizes and uniform centres, inside the image."""
    size = torch.exp(
        torch.empty(n, 2).uniform_(float(torch.tensor(min_size).log()),
                                   float(torch.tensor(max_size).log()),
                                   generator=g))
    size = torch.minimum(size, torch.tensor([img_w - 1., img_h - 1.]))
    ctr = torch.rand(n, 2, generator=g) * torch.tensor([img_w, img_h])
    x1y1 = (ctr - size / 2).clamp(min=0)
    x1y1 = torch.minimum(x1y1, torch.tensor([img_w, img_h]) - size)
    return torch.cat([x1y1, x1y1 + size], 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--rois', type=int, default=512, help='per image')
    parser.add_argument('--gts', type=int, default=15, help='per image')
    parser.add_argument('--scale',
                        type=float,
                        default=1.0,
                        help='input size = scale x (800, 1333)')
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--queue', type=int, default=80)
    parser.add_argument('--no-alloc',
                        action='store_true',
                        help='do not allocate the 2.4 GB LVIS bank; time '
                        'enqueue/sample on a small-class bank instead')
    parser.add_argument('--threads', type=int, default=None)
    args = parser.parse_args()

    import mmlt  # noqa: F401  (registers mmlt's modules)
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData

    from mmdet.registry import MODELS, TASK_UTILS
    from mmdet.structures.bbox import bbox2roi
    from mmlt.models.layers import FeatureMemoryBank, generate_memory_items

    init_default_scope('mmdet')
    if args.threads:
        torch.set_num_threads(args.threads)
    c, q, shape = args.classes, args.queue, (256, 7, 7)

    # ------------------------------------------------------------ (a)
    print(f'(a) bank bytes at C={c}, Q={q}, feat={shape} (computed)')
    ref = FeatureMemoryBank.estimate_nbytes(c, q, shape, 'float32')['total']
    for dt in ('float32', 'float16', 'bfloat16'):
        b = FeatureMemoryBank.estimate_nbytes(c, q, shape, dt)
        print(f'  {dt:<9s} feats {b["feats"]:>13,d} B  total '
              f'{b["total"]:>13,d} B = {b["total"] / 1e9:5.3f} GB = '
              f'{b["total"] / 2**30:5.3f} GiB  ({b["total"] / ref:4.2f}x '
              'fp32, the original)')

    g = torch.Generator().manual_seed(0)
    img_h, img_w = round(800 * args.scale), round(1333 * args.scale)
    bank_classes = c if not args.no_alloc else 64
    bank = FeatureMemoryBank(bank_classes, q, shape, dtype='float16')
    labels_all = torch.arange(bank_classes)
    if not args.no_alloc:
        chunk = torch.randn((bank_classes, ) + shape, generator=g)
        targets = torch.zeros(bank_classes, 4)
        rss0 = rss_bytes()
        bank.enqueue(chunk, labels_all, targets)
        rss1 = rss_bytes()
        t0 = time.perf_counter()
        for _ in range(q - 1):
            bank.enqueue(chunk, labels_all, targets)
        fill_s = time.perf_counter() - t0
        rss2 = rss_bytes()
        del chunk
        print(f'  allocated fp16 on cpu: RSS +{(rss1 - rss0) / 1e6:.0f} MB '
              f'after one batch of {bank_classes} items, '
              f'+{(rss2 - rss0) / 1e9:.3f} GB when full '
              f'(bank.nbytes() = {bank.nbytes() / 1e9:.3f} GB; filled in '
              f'{fill_s:.1f} s, {q - 1} enqueues)')
    else:
        bank.enqueue(torch.randn((bank_classes * q, ) + shape, generator=g),
                     labels_all.repeat(q), torch.zeros(bank_classes * q, 4))
        print(f'  --no-alloc: timing on a {bank_classes}-class bank')
    assert int(bank.count.min()) == q

    # ------------------------------------------------------------ (b)
    strides = [4, 8, 16, 32, 64]
    x = tuple(
        torch.randn(2, 256, -(-img_h // s), -(-img_w // s), generator=g)
        for s in strides)
    extractor = MODELS.build(
        dict(type='SingleRoIExtractor',
             roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
             out_channels=256,
             featmap_strides=[4, 8, 16, 32]))
    head = MODELS.build(
        dict(type='Shared2FCBBoxHead',
             in_channels=256,
             fc_out_channels=1024,
             roi_feat_size=7,
             num_classes=c,
             bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                             target_means=[0., 0., 0., 0.],
                             target_stds=[0.1, 0.1, 0.2, 0.2]),
             reg_class_agnostic=False)).train()
    coder = TASK_UTILS.build(
        dict(type='DeltaXYWHBBoxCoder',
             target_means=[0., 0., 0., 0.],
             target_stds=[0.1, 0.1, 0.2, 0.2]))
    rois = bbox2roi(
        [random_boxes(args.rois, img_h, img_w, g) for _ in range(2)])
    gts = [
        InstanceData(bboxes=random_boxes(args.gts, img_h, img_w, g, 8., 400.),
                     labels=torch.randint(0,
                                          bank_classes, (args.gts, ),
                                          generator=g)) for _ in range(2)
    ]
    metas = [dict(img_shape=(img_h, img_w))] * 2
    # LVIS-like mean scores: most classes confident, a tail of weak ones
    mean_score = torch.rand(bank_classes + 1, generator=g)**3
    mem = generate_memory_items(extractor, x, gts, metas, coder)
    sample_g = torch.Generator().manual_seed(1)

    def roi_forward():
        head(extractor(x[:4], rois))

    def roi_align():
        extractor(x[:4], rois)

    def generate():
        return generate_memory_items(extractor, x, gts, metas, coder)

    def enqueue():
        bank.enqueue(*mem)

    def sample():
        bank.sample(mean_score, generator=sample_g)

    def mfs_total():
        bank.enqueue(*generate())
        sample()

    cases = {
        'RoI-head forward (baseline)': roi_forward,
        '  of which RoIAlign': roi_align,
        'generate (jitter+RoIAlign)': generate,
        'enqueue': enqueue,
        'sample (8 x 4)': sample,
        'MFS total (gen+enq+sample)': mfs_total,
    }
    times = {k: [] for k in cases}
    with torch.no_grad():
        for r in range(args.warmup + args.repeats):
            for name, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                dt = time.perf_counter() - t0
                if r >= args.warmup:
                    times[name].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med['RoI-head forward (baseline)']
    print(f'(b) threads={torch.get_num_threads()} torch={torch.__version__} '
          f'input {img_h}x{img_w}, 2 images x {args.rois} RoIs, '
          f'{mem[0].shape[0]} memory features ({args.gts} GTs/image x 16); '
          f'median of {args.repeats} interleaved repeats')
    for name, t in med.items():
        print(f'  {name:<30s} {t * 1e3:9.2f} ms  {t / base:6.3f}x RoI-head '
              'forward')

    # ------------------------------------------------------------ (c)
    f32 = mem[0][:256]
    with torch.no_grad():
        z32 = head(f32)[0]
        for dt in (torch.float16, torch.bfloat16):
            fr = f32.to(dt).float()
            z = head(fr)[0]
            print(f'(c) {str(dt)[6:]:<8s} storage: feature rel. L2 error '
                  f'{float((fr - f32).norm() / f32.norm()):.1e}, class-logit '
                  f'rel. L2 error {float((z - z32).norm() / z32.norm()):.1e}')


if __name__ == '__main__':
    main()
