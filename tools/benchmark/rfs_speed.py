"""Time repeat-factor computation at LVIS v1 train scale: mmlt vs mmengine.

Data (``--source``):

* ``synthetic`` (default): CSR label arrays with an LVIS-like class profile,
  100,170 images, 1,203 classes (337 r / 461 c / 405 f), ~7 unique classes
  per image.  Runs in ~15 s.
* ``json``: the LVIS-scale json of
  ``mmlt.datasets.toy_lvis.make_lvis_scale_annotations`` (~1.27M boxes with
  polygons, written to ``--ann-file`` if that does not exist yet) loaded
  with ``LongTailLVISDataset``.  Not the default because json decoding and
  mmdet's per-box parsing take ~1 min on 2 cores (generation another ~1
  min), which is not what is measured here.

Both implementations run on the same labels: mmengine's
``ClassBalancedDataset._get_repeat_factors`` through a minimal dataset
exposing ``get_cat_ids``/``__len__`` (plain Python lists, so its timing is
not inflated by data access), mmlt's ``compute_repeat_factors`` on the CSR.
The ceil'd repeat index lists must agree and mmlt must take <= 2 s.

Usage: python tools/benchmark/rfs_speed.py [--source json [--ann-file F]]
"""
import argparse
import math
import os.path as osp
import tempfile
import time

import numpy as np

NUM_IMAGES = 100_170
NUM_CLASSES = 1_203
GROUP_SIZES = dict(r=337, c=461, f=405)
BUDGET_S = 2.0


def synth_lvis_labels(seed: int = 0):
    """(offsets, labels) with LVIS v1-like per-class image counts.

    Rare classes get 1-10 images, common 11-100 (log-uniform), frequent
    ones a Zipf tail from 101 up, scaled so that sum image_count ~= 7 per
    image (LVIS: 1.27M boxes in ~0.7M unique (image, class) pairs; only the
    unique pairs matter for repeat factors).
    """
    rng = np.random.default_rng(seed)
    rare = rng.integers(1, 11, GROUP_SIZES['r'])
    common = np.exp(rng.uniform(np.log(11), np.log(101),
                                GROUP_SIZES['c'])).astype(np.int64)
    rank = np.arange(1, GROUP_SIZES['f'] + 1)
    target_pairs = 7 * NUM_IMAGES
    zipf = 1.0 / rank**0.9
    freq_total = target_pairs - rare.sum() - common.sum()
    frequent = np.maximum(101, (zipf / zipf.sum() * freq_total)).astype(
        np.int64)
    frequent = np.minimum(frequent, NUM_IMAGES // 2)
    image_count = rng.permutation(np.concatenate([rare, common, frequent]))

    img = np.concatenate([
        rng.choice(NUM_IMAGES, size=int(k), replace=False)
        for k in image_count
    ])
    lab = np.repeat(np.arange(NUM_CLASSES), image_count)
    order = np.lexsort((lab, img))
    img, lab = img[order], lab[order]
    offsets = np.zeros(NUM_IMAGES + 1, dtype=np.int64)
    np.cumsum(np.bincount(img, minlength=NUM_IMAGES), out=offsets[1:])
    return offsets, lab.astype(np.int64)


def json_lvis_labels(ann: str):
    from mmlt.datasets import toy_lvis
    from mmlt.datasets.lvis import LongTailLVISDataset
    if not osp.isfile(ann):
        t = time.perf_counter()
        toy_lvis.make_lvis_scale_annotations(
            ann, split='train', seed=0, num_images=NUM_IMAGES, progress=False)
        print(f'generated {ann} in {time.perf_counter() - t:.1f} s')
    t = time.perf_counter()
    ds = LongTailLVISDataset(
        ann_file=ann,
        data_prefix=dict(img=''),
        check_images=False,
        filter_cfg=None,
        pipeline=[])
    print(f'loaded {ann} with LongTailLVISDataset in '
          f'{time.perf_counter() - t:.1f} s')
    offsets, labels = ds.cat_ids_csr()
    return offsets, labels, len(ds.metainfo['classes'])


class _ListDataset:
    """Just what ClassBalancedDataset._get_repeat_factors touches."""

    def __init__(self, per_image):
        self.per_image = per_image

    def __len__(self):
        return len(self.per_image)

    def get_cat_ids(self, idx):
        return self.per_image[idx]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--source', choices=['json', 'synthetic'], default='synthetic')
    parser.add_argument(
        '--ann-file',
        help='LVIS-scale json for --source json (generated if missing; '
        'default: a temporary file)')
    parser.add_argument('--thr', type=float, default=1e-3)
    args = parser.parse_args()

    from mmengine.dataset import ClassBalancedDataset

    from mmlt.datasets.rfs import compute_repeat_factors

    source = args.source
    with tempfile.TemporaryDirectory() as tmp:
        if source == 'json':
            offsets, labels, num_classes = json_lvis_labels(
                args.ann_file or osp.join(tmp, 'lvis_scale_train.json'))
        else:
            t = time.perf_counter()
            offsets, labels = synth_lvis_labels()
            num_classes = NUM_CLASSES
            print(f'synthesised labels in {time.perf_counter() - t:.1f} s')
    n = len(offsets) - 1
    print(f'source={source}: {n} images, {num_classes} classes, '
          f'{len(labels)} (image, class) pairs = '
          f'{len(labels) / max(n, 1):.2f} classes/image')

    t = time.perf_counter()
    ours = compute_repeat_factors(offsets, labels, num_classes, args.thr)
    t_ours = time.perf_counter() - t

    per_image = np.split(labels, offsets[1:-1])
    per_image = [x.tolist() for x in per_image]
    cbd = ClassBalancedDataset.__new__(ClassBalancedDataset)
    cbd.dataset = _ListDataset(per_image)
    t = time.perf_counter()
    theirs = cbd._get_repeat_factors(cbd.dataset, args.thr)
    t_theirs = time.perf_counter() - t

    theirs_idx = []
    for i, r in enumerate(theirs):
        theirs_idx.extend([i] * math.ceil(r))
    ours_idx = np.repeat(np.arange(n), np.ceil(ours).astype(np.int64))
    agree = np.array_equal(np.asarray(theirs_idx), ours_idx)
    max_diff = float(np.abs(np.asarray(theirs) - ours).max())

    print(f'mmlt compute_repeat_factors          : {t_ours * 1e3:8.1f} ms')
    print(f'mmengine ClassBalancedDataset factors: {t_theirs * 1e3:8.1f} ms')
    print(f'speed-up: {t_theirs / t_ours:.1f}x')
    print(f'epoch length (ceil): {len(ours_idx)}  '
          f'(stochastic round(sum r) = {int(round(ours.sum()))}); '
          f'images with r>1: {int((ours > 1).sum())}')
    print(f'factors max |diff| = {max_diff:.2e}; ceil repeat indices '
          f"{'agree' if agree else 'DIFFER'}")
    assert agree, 'mmlt and mmengine repeat indices differ'
    assert t_ours <= BUDGET_S, f'{t_ours:.2f} s > {BUDGET_S} s budget'


if __name__ == '__main__':
    main()
