"""Class-aware sampling: per-class image lists, class round-robin, image
cycling, determinism, epochs, rank split, empty classes, the epoch hook."""
import copy
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.dataset import DefaultSampler

from mmlt.datasets import ClassAwareDataset
from mmlt.datasets.class_aware import (class_aware_indices,
                                       class_aware_indices_naive,
                                       class_image_csr)
from mmlt.engine.hooks import RepeatFactorEpochHook

# 7 images, 3 classes:
#   class 0: images 0, 1        class 1: images 1, 2, 3
#   class 2: images 4, 5 (image 5 lists it twice)   image 6: no label
PER_IMAGE = [[0], [0, 1], [1], [1], [2], [2, 2], []]
CLASS_IMAGES = {0: {0, 1}, 1: {1, 2, 3}, 2: {4, 5}}


def csr(per_image):
    offsets = np.cumsum([0] + [len(x) for x in per_image]).astype(np.int64)
    labels = np.array([c for x in per_image for c in x], dtype=np.int64)
    return offsets, labels


class ListDataset:
    """Items are their own index; labels via get_cat_ids only."""

    def __init__(self, per_image=PER_IMAGE, num_classes=3):
        self.per_image = per_image
        self.metainfo = dict(classes=tuple('abcdefgh'[:num_classes]))

    def __len__(self):
        return len(self.per_image)

    def __getitem__(self, idx):
        return idx

    def get_cat_ids(self, idx):
        return list(self.per_image[idx])


class CSRDataset(ListDataset):
    """Labels through cat_ids_csr like LongTailLVISDataset (class 3 has no
    image)."""

    def cat_ids_csr(self):
        return csr(self.per_image)


def test_class_image_csr():
    cls_offsets, images = class_image_csr(*csr(PER_IMAGE), num_classes=4)
    assert cls_offsets.tolist() == [0, 2, 5, 7, 7]
    assert images.tolist() == [0, 1, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 2\)'):
        class_image_csr(*csr(PER_IMAGE), num_classes=2)


def _streams(images, classes):
    """{class: images drawn for it, in order}."""
    out = {}
    for img, c in zip(images.tolist(), classes.tolist()):
        out.setdefault(c, []).append(img)
    return out


@pytest.mark.parametrize('seed', [0, 1, 7])
def test_round_robin_over_classes_and_image_cycling(seed):
    cls_offsets, images = class_image_csr(*csr(PER_IMAGE), 3)
    out, cls = class_aware_indices(cls_offsets, images, 14, seed=seed,
                                   return_classes=True)
    # every aligned window of K=3 samples holds each class once (the last,
    # partial window holds distinct classes)
    for start in range(0, 14, 3):
        window = cls[start:start + 3].tolist()
        assert len(set(window)) == len(window)
        if len(window) == 3:
            assert sorted(window) == [0, 1, 2]
    # each sample is an image of its class
    for img, c in zip(out.tolist(), cls.tolist()):
        assert img in CLASS_IMAGES[c]
    # per class: every image once before any repeats, cycle after cycle
    for c, drawn in _streams(out, cls).items():
        n = len(CLASS_IMAGES[c])
        for start in range(0, len(drawn), n):
            block = drawn[start:start + n]
            assert len(set(block)) == len(block)
            if len(block) == n:
                assert set(block) == CLASS_IMAGES[c]
    # class counts: 14 = 4 full cycles of 3 + 2
    counts = np.bincount(cls, minlength=3)
    assert sorted(counts.tolist()) == [4, 5, 5]


def test_matches_sample_by_sample_reference():
    rng = np.random.default_rng(3)
    # 40 images, 12 classes (classes 10, 11 empty), 1-3 labels per image,
    # class 0 in a single image (drawn ~60 times)
    per_image = [
        sorted(set(rng.integers(1, 10, rng.integers(1, 4)).tolist()))
        for _ in range(40)
    ]
    per_image[5] = per_image[5] + [0]
    offsets, labels = csr(per_image)
    cls_offsets, images = class_image_csr(offsets, labels, 12)
    for seed, epoch in [(0, 0), (0, 1), (5, 2)]:
        fast = class_aware_indices(cls_offsets, images, 600, seed, epoch)
        slow = class_aware_indices_naive(per_image, 12, 600, seed, epoch)
        assert fast.tolist() == slow
    # the rare class appears once per window of 10 non-empty classes
    _, cls = class_aware_indices(cls_offsets, images, 600, 0, 0,
                                 return_classes=True)
    assert (cls == 0).sum() == 60
    assert not np.isin(cls, [10, 11]).any()


def test_determinism_seed_and_epoch():
    cls_offsets, images = class_image_csr(*csr(PER_IMAGE), 3)

    def draw(seed, epoch):
        return class_aware_indices(cls_offsets, images, 30, seed,
                                   epoch).tolist()

    assert draw(0, 0) == draw(0, 0)
    assert draw(0, 0) != draw(0, 1)
    assert draw(0, 0) != draw(1, 0)


def test_empty_classes_are_skipped():
    # class 1 has no image: windows of K = 2 (not 3) hold classes 0 and 2
    per_image = [[0], [2], [2], [0, 2]]
    cls_offsets, images = class_image_csr(*csr(per_image), 3)
    out, cls = class_aware_indices(cls_offsets, images, 10, 0,
                                   return_classes=True)
    for pair in cls.reshape(5, 2).tolist():
        assert sorted(pair) == [0, 2]
    with pytest.raises(ValueError, match='at least one class'):
        class_aware_indices(*class_image_csr(*csr([[], []]), 3), 4)


@pytest.mark.parametrize('dataset_cls', [ListDataset, CSRDataset])
def test_wrapper_length_items_and_epochs(dataset_cls):
    base = dataset_cls(num_classes=4)
    cas = ClassAwareDataset(base, seed=3)
    assert len(cas) == len(base) == 7  # default: the wrapped length
    cas = ClassAwareDataset(base, num_samples=12, seed=3)
    assert len(cas) == 12
    offsets, images = class_image_csr(*csr(PER_IMAGE), 4)
    e0 = class_aware_indices(offsets, images, 12, 3, 0).tolist()
    e1 = class_aware_indices(offsets, images, 12, 3, 1).tolist()
    assert [cas[i] for i in range(12)] == e0
    assert [cas.get_cat_ids(i) for i in range(2)] == \
        [PER_IMAGE[j] for j in e0[:2]]
    cas.set_epoch(1)
    assert [cas[i] for i in range(12)] == e1
    cas.set_epoch(0)
    assert [cas[i] for i in range(12)] == e0
    assert cas.metainfo['classes'] == ('a', 'b', 'c', 'd')


def test_identical_order_across_simulated_ranks(monkeypatch):
    """Each rank builds its own wrapper (copies: as after pickling to a
    process) and DefaultSampler(shuffle=False) splits the common table."""
    import mmengine.dataset.sampler as sampler_mod
    cas = ClassAwareDataset(ListDataset(), num_samples=20, seed=0)
    cas.set_epoch(2)
    table = cas.epoch_indices(2).tolist()
    shares = []
    for rank in (0, 1):
        ds = pickle.loads(pickle.dumps(copy.deepcopy(cas)))
        ds.set_epoch(2)
        monkeypatch.setattr(sampler_mod, 'get_dist_info',
                            lambda r=rank: (r, 2))
        sampler = DefaultSampler(ds, shuffle=False)
        shares.append([ds[i] for i in sampler])
    assert shares[0] == table[0::2] and shares[1] == table[1::2]


def test_bad_arguments():
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match='num_samples'):
            ClassAwareDataset(ListDataset(), num_samples=bad)
    with pytest.raises(ValueError, match='no image with a label'):
        ClassAwareDataset(ListDataset([[], []]))


def _runner(dataset, sampler):
    loader = SimpleNamespace(dataset=dataset, sampler=sampler, batch_size=2)
    return SimpleNamespace(train_dataloader=loader, epoch=3, iter=0,
                           train_loop=SimpleNamespace())


def test_epoch_hook_sets_epoch_and_warns_on_shuffle():
    cas = ClassAwareDataset(ListDataset(), num_samples=6)
    hook = RepeatFactorEpochHook()
    runner = _runner(cas, SimpleNamespace(shuffle=False))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        hook.before_train(runner)
    hook.before_train_epoch(runner)
    assert cas.epoch == 3
    with pytest.warns(UserWarning, match='shuffle=False'):
        hook.before_train(_runner(cas, SimpleNamespace(shuffle=True)))


def test_hook_alias_registered():
    from mmdet.registry import HOOKS
    assert HOOKS.get('DatasetEpochHook') is RepeatFactorEpochHook


@pytest.mark.parametrize('per_class', [2, 3])
def test_samples_per_class_matches_reference(per_class):
    """The DB repo's ClassAwareSampler(num_samples_cls=3): each drawn class
    yields its next images in a row; vectorised == sample-by-sample."""
    cls_offsets, images = class_image_csr(*csr(PER_IMAGE), num_classes=3)
    for n in (1, 7, 20, 31):
        fast, classes = class_aware_indices(
            cls_offsets, images, n, seed=2, epoch=1, return_classes=True,
            samples_per_class=per_class)
        assert fast.tolist() == class_aware_indices_naive(
            PER_IMAGE, 3, n, seed=2, epoch=1, samples_per_class=per_class)
        runs = classes[:n - n % per_class].reshape(-1, per_class)
        assert (runs == runs[:, :1]).all()
        for i, c in zip(fast, classes):
            assert i in CLASS_IMAGES[c]
    with pytest.raises(ValueError, match='samples_per_class'):
        ClassAwareDataset(ListDataset(), samples_per_class=0)
    # reduce: int(max_c n_c * C / reduce) = int(3 * 3 / 2)
    assert len(ClassAwareDataset(CSRDataset(), reduce=2)) == 4
