"""Repeat factor sampling: factors, ceil/stochastic tables, epochs, workers."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import ClassBalancedDataset
from torch.utils.data import DataLoader

from mmlt.datasets import RepeatFactorDataset, compute_repeat_factors

# 10 images, 3 classes, t = 0.9:
#   class 0 in image 0            f = 0.1 -> r = sqrt(9)    = 3
#   class 1 in images 1-4         f = 0.4 -> r = sqrt(2.25) = 1.5
#   class 2 in images 0-8         f = 0.9 -> r = max(1, 1)  = 1
#   image 9 has no labels         -> 1
PER_IMAGE = [[0, 2, 0], [1, 2], [1, 2], [2, 1], [1, 2], [2], [2], [2], [2],
             []]
THR = 0.9
EXPECTED_R = [3, 1.5, 1.5, 1.5, 1.5, 1, 1, 1, 1, 1]


def csr(per_image):
    offsets = np.cumsum([0] + [len(x) for x in per_image]).astype(np.int64)
    labels = np.array([c for x in per_image for c in x], dtype=np.int64)
    return offsets, labels


class ListDataset:
    """Items are their own index; labels via get_cat_ids only."""

    def __init__(self, per_image=PER_IMAGE):
        self.per_image = per_image
        self.metainfo = dict(classes=('a', 'b', 'c'))

    def __len__(self):
        return len(self.per_image)

    def __getitem__(self, idx):
        return idx

    def get_cat_ids(self, idx):
        return list(self.per_image[idx])


class CSRDataset(ListDataset):
    get_cat_ids_calls = 0

    def cat_ids_csr(self):
        return csr(self.per_image)

    def get_cat_ids(self, idx):
        self.get_cat_ids_calls += 1
        return super().get_cat_ids(idx)


def test_factors_hand_computed():
    r = compute_repeat_factors(*csr(PER_IMAGE), num_classes=3, thr=THR)
    np.testing.assert_allclose(r, EXPECTED_R, rtol=0, atol=1e-12)
    assert r.dtype == np.float64


def test_empty_images_and_absent_classes():
    r = compute_repeat_factors(*csr([[], [1], [], [1]]), num_classes=4,
                               thr=1.0)
    # class 1 in 2 of 4 images: sqrt(1 / 0.5)
    np.testing.assert_allclose(r, [1, math.sqrt(2), 1, math.sqrt(2)])
    assert compute_repeat_factors(*csr([[], []]), 2).tolist() == [1, 1]
    assert len(compute_repeat_factors(*csr([]), 2)) == 0


def test_matches_mmengine_on_random_labels():
    rng = np.random.default_rng(0)
    per_image = [
        sorted(set(rng.zipf(1.6, rng.integers(0, 6)) % 50))
        for _ in range(500)
    ]
    ours = compute_repeat_factors(*csr(per_image), num_classes=50, thr=0.05)
    cbd = ClassBalancedDataset.__new__(ClassBalancedDataset)
    cbd.dataset = ListDataset(per_image)
    theirs = cbd._get_repeat_factors(cbd.dataset, 0.05)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize('ds_cls', [ListDataset, CSRDataset])
def test_ceil_table(ds_cls):
    rfs = RepeatFactorDataset(ds_cls(), thr=THR)
    assert getattr(rfs.dataset, 'get_cat_ids_calls', 0) == 0  # CSR path
    np.testing.assert_allclose(rfs.repeat_factors, EXPECTED_R)
    # ceil: 3, 2, 2, 2, 2, 1 x 5
    assert len(rfs) == 16
    expected = [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9]
    assert [rfs[i] for i in range(16)] == expected
    rfs.set_epoch(7)  # ceil tables do not depend on the epoch
    assert [rfs[i] for i in range(16)] == expected
    assert rfs.get_cat_ids(3) == PER_IMAGE[1]  # table[3] = image 1
    assert rfs.metainfo == dict(classes=('a', 'b', 'c'))


def test_config_dict_and_lazy_init():
    from mmdet.registry import DATASETS
    rfs = DATASETS.build(
        dict(type='RepeatFactorDataset', dataset=CSRDataset(), thr=THR,
             lazy_init=True))
    assert not rfs._fully_initialized
    assert len(rfs) == 16
    with pytest.raises(ValueError, match='rounding'):
        RepeatFactorDataset(CSRDataset(), rounding='floor')


def _counts(table, n=10):
    return np.bincount(table, minlength=n)


def test_stochastic_mean_count_and_length():
    rfs = RepeatFactorDataset(CSRDataset(), thr=THR, rounding='stochastic')
    assert len(rfs) == 14  # round(3 + 4 * 1.5 + 5)
    epochs = 3000
    total = np.zeros(10)
    for e in range(epochs):
        t = rfs.epoch_indices(e)
        assert len(t) == 14
        total += _counts(t)
    # E[count_I] ~= r_I (per-epoch truncation/cycling to 14 adds ~1% bias)
    np.testing.assert_allclose(total / epochs, EXPECTED_R, rtol=0.04)
    # integer factors: image 0 appears 3 times whenever no truncation hits it
    assert abs(total[0] / epochs - 3) < 0.1


def test_stochastic_same_on_ranks_differs_across_epochs():
    a = RepeatFactorDataset(CSRDataset(), thr=THR, rounding='stochastic',
                            seed=3)
    b = RepeatFactorDataset(CSRDataset(), thr=THR, rounding='stochastic',
                            seed=3)
    for e in (0, 1, 5):
        a.set_epoch(e)
        b.set_epoch(e)
        assert [a[i] for i in range(14)] == [b[i] for i in range(14)]
    tables = {tuple(a.epoch_indices(e)) for e in range(10)}
    assert len(tables) > 5
    c = RepeatFactorDataset(CSRDataset(), thr=THR, rounding='stochastic',
                            seed=4)
    assert any(
        not np.array_equal(a.epoch_indices(e), c.epoch_indices(e))
        for e in range(5))
    # tables rebuilt lazily on epoch change
    a.set_epoch(2)
    assert [a[i] for i in range(14)] == a.epoch_indices(2).tolist()
    assert a.epoch == 2


def test_set_epoch_reaches_persistent_workers():
    rfs = RepeatFactorDataset(CSRDataset(), thr=THR, rounding='stochastic')
    rfs.set_epoch(9)
    # mmengine's Runner deep-copies the dataset before building the loader
    rfs = copy.deepcopy(rfs)
    assert rfs.epoch == 9
    loader = DataLoader(rfs, batch_size=14, shuffle=False, num_workers=1,
                        persistent_workers=True)
    seen = {}
    for epoch in (0, 1, 4):
        rfs.set_epoch(epoch)
        (batch, ) = list(loader)
        seen[epoch] = batch.tolist()
        assert seen[epoch] == rfs.epoch_indices(epoch).tolist()
    assert seen[0] != seen[1]
    assert isinstance(rfs._epoch, torch.Tensor) and rfs._epoch.is_shared()
