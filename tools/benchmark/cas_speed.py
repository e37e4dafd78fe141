"""Time class-aware sampling at LVIS v1 train scale: mmlt's vectorised table
vs a sample-by-sample Python loop (the EQLv2 ``CASDataset`` structure).

Labels: ``synth_lvis_labels`` of ``rfs_speed.py`` (100,170 images, 1,203
classes with LVIS-like r/c/f image counts, ~7 classes per image). One epoch
= 75000 * 16 = 1.2M samples (the cRT recipe's single "epoch").

Both produce the same table from the same (seed, epoch) — checked here —
so the difference is implementation only. mmlt's table must take <= 2 s.

Usage: python tools/benchmark/cas_speed.py [--num-samples N] [--epochs E]
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from rfs_speed import NUM_CLASSES, synth_lvis_labels  # noqa: E402

BUDGET_S = 2.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=75000 * 16)
    parser.add_argument('--epochs', type=int, default=3,
                        help='epochs timed for mmlt (best and mean shown)')
    parser.add_argument('--skip-naive', action='store_true')
    args = parser.parse_args()

    from mmlt.datasets.class_aware import (class_aware_indices,
                                           class_aware_indices_naive,
                                           class_image_csr)

    t = time.perf_counter()
    offsets, labels = synth_lvis_labels()
    n = len(offsets) - 1
    print(f'synthesised {n} images, {NUM_CLASSES} classes, {len(labels)} '
          f'(image, class) pairs in {time.perf_counter() - t:.1f} s; '
          f'{args.num_samples} samples/epoch')

    t = time.perf_counter()
    cls_offsets, images = class_image_csr(offsets, labels, NUM_CLASSES)
    t_csr = time.perf_counter() - t
    times = []
    for epoch in range(args.epochs):
        t = time.perf_counter()
        ours = class_aware_indices(cls_offsets, images, args.num_samples, 0,
                                   epoch)
        times.append(time.perf_counter() - t)
        if epoch == 0:
            first = ours
    print(f'mmlt  class->images CSR: {t_csr * 1e3:.0f} ms; table per epoch: '
          f'best {min(times) * 1e3:.0f} ms, mean '
          f'{np.mean(times) * 1e3:.0f} ms over {args.epochs} epochs')
    ok = min(times) + t_csr <= BUDGET_S
    if not args.skip_naive:
        per_image = [x.tolist() for x in np.split(labels, offsets[1:-1])]
        t = time.perf_counter()
        naive = class_aware_indices_naive(per_image, NUM_CLASSES,
                                          args.num_samples, 0, 0)
        t_naive = time.perf_counter() - t
        same = first.tolist() == naive
        print(f'naive Python loop (epoch 0): {t_naive:.2f} s -> mmlt is '
              f'{t_naive / times[0]:.0f}x faster; identical table: {same}')
        ok = ok and same
    print('PASS' if ok else f'FAIL (budget {BUDGET_S} s or mismatch)')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
