"""Class-aware sampling (CAS) for decoupled classifier re-training.

Shen et al., "Relay Backpropagation", ECCV 2016; used by cRT/LWS (Kang et
al., ICLR 2020) as in the EQLv2 repo's ``CASDataset``: sample k of an epoch
is drawn by

1. taking the next class of a random permutation of the classes that have
   images (a new permutation when one is used up), then
2. taking the next image of a random permutation of that class's images (a
   new permutation per class when its one is used up).

So every window of K consecutive samples (K = #classes with images) holds
each class once, and a class's images all appear before any repeats.
With ``samples_per_class = s > 1`` (the Distribution-Balanced loss repo's
``ClassAwareSampler(num_samples_cls=3)``) each drawn class yields its next
s images in a row, so a window of s * K samples holds each class s times.

Randomness: the class stream uses ``np.random.default_rng([seed, epoch,
0])``, the image stream of class c ``default_rng([seed, epoch, c + 1])``;
each permutation of n items is ``argsort`` of n uniform draws. The table is
a function of (seed, epoch) only, identical on every rank; ranks take their
share through ``DefaultSampler(shuffle=False)``.
"""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmdet.registry import DATASETS
from .class_stats import unique_sorted
from .rfs import EpochIndexedDataset, dataset_label_csr

__all__ = [
    'ClassAwareDataset', 'class_image_csr', 'class_aware_indices',
    'class_aware_indices_naive'
]


def class_image_csr(offsets: np.ndarray, labels: np.ndarray,
                    num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Invert per-image labels into per-class images.

    Returns ``(cls_offsets int64[C+1], images int64[nnz'])``: class c has
    the ascending, duplicate-free image indices
    ``images[cls_offsets[c]:cls_offsets[c+1]]``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(offsets) - 1
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f'labels must lie in [0, {num_classes}), got '
            f'[{labels.min()}, {labels.max()}]')
    img = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    # one sort by (class, image) also drops duplicate labels of an image
    key = unique_sorted(labels * max(n, 1) + img)
    cls, images = np.divmod(key, max(n, 1))
    cls_offsets = np.zeros(num_classes + 1, dtype=np.int64)
    np.cumsum(np.bincount(cls, minlength=num_classes), out=cls_offsets[1:])
    return cls_offsets, images


def _permutations(rng: np.random.Generator, n: int,
                  count: int) -> np.ndarray:
    """``count`` random permutations of ``range(n)``, int64[count, n]: the
    argsort of n uniform draws each."""
    return rng.random((count, n)).argsort(axis=1, kind='stable')


def _stream_head(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """First ``m`` items of back-to-back random permutations of
    ``range(n)`` (same values as ``_permutations(rng, n, ceil(m/n))``
    flattened): the last, partial permutation only needs its ``r``
    smallest keys, found by ``argpartition`` in O(n + r log r) -- a
    frequent class with 50k images drawn 1k times does not sort 50k keys.
    """
    if n == 1:  # no randomness needed (the generator is class-private)
        return np.zeros(m, dtype=np.int64)
    cycles = -(-m // n)
    keys = rng.random((cycles, n))
    rest = m - (cycles - 1) * n
    last = keys[-1]
    if rest < n:
        head = np.argpartition(last, rest - 1)[:rest]
        head = head[np.argsort(last[head], kind='stable')]
    else:
        head = last.argsort(kind='stable')
    full = keys[:-1].argsort(axis=1, kind='stable').ravel()
    return np.concatenate([full, head])


def class_aware_indices(cls_offsets: np.ndarray,
                        images: np.ndarray,
                        num_samples: int,
                        seed: int = 0,
                        epoch: int = 0,
                        return_classes: bool = False,
                        samples_per_class: int = 1):
    """The ``num_samples`` image indices of one class-aware epoch (and, with
    ``return_classes``, the class each sample was drawn for).

    Vectorised: one batch of permutations for the class stream and one per
    sampled class, O(num_samples + nnz) work with C + 1 numpy calls.
    Output equals :func:`class_aware_indices_naive`. ``samples_per_class``
    images are taken in a row for each class drawn (1: one per draw).
    """
    sizes = np.diff(cls_offsets)
    classes = np.flatnonzero(sizes)
    k = len(classes)
    if k == 0:
        raise ValueError('class-aware sampling needs at least one class '
                         'with an image; the dataset has no labels')
    num_samples = int(num_samples)
    s = int(samples_per_class)
    if s < 1:
        raise ValueError(f'samples_per_class must be >= 1, got {s}')
    if num_samples <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return (empty, empty.copy()) if return_classes else empty
    # 1. class stream: ceil(draws / K) permutations back to back, each
    #    drawn class repeated s times
    rng = np.random.default_rng([seed, epoch, 0])
    num_draws = -(-num_samples // s)
    cycles = -(-num_draws // k)
    seq = classes[_permutations(rng, k, cycles).ravel()[:num_draws]]
    if s > 1:
        seq = np.repeat(seq, s)[:num_samples]
    # 2. image streams: class c is drawn m_c times -> ceil(m_c / n_c)
    #    permutations of its images, in the order the stream consumes them
    draws = np.bincount(seq, minlength=len(sizes))
    streams = []
    for c in np.flatnonzero(draws):
        m, n, start = int(draws[c]), int(sizes[c]), int(cls_offsets[c])
        rng_c = np.random.default_rng([seed, epoch, int(c) + 1])
        streams.append(images[start + _stream_head(rng_c, n, m)])
    # the j-th occurrence of class c in `seq` gets the j-th image of its
    # stream: a stable sort of `seq` lists occurrences class by class
    out = np.empty(num_samples, dtype=np.int64)
    # (16-bit keys take numpy's radix sort: ~10x faster than int64)
    key = seq.astype(np.int16) if len(sizes) <= np.iinfo(np.int16).max \
        else seq
    out[np.argsort(key, kind='stable')] = np.concatenate(streams)
    return (out, seq) if return_classes else out


def class_aware_indices_naive(per_image_labels: Sequence[Sequence[int]],
                              num_classes: int,
                              num_samples: int,
                              seed: int = 0,
                              epoch: int = 0,
                              samples_per_class: int = 1) -> List[int]:
    """Sample-by-sample Python reference of :func:`class_aware_indices`
    (the structure of the EQLv2 repo's ``CASDataset``: a class iterator and
    one iterator per class, re-shuffled when exhausted). For tests and
    ``tools/benchmark/cas_speed.py``."""
    cls_images = [[] for _ in range(num_classes)]
    for i, labels in enumerate(per_image_labels):
        for c in sorted(set(labels)):
            cls_images[c].append(i)
    classes = [c for c in range(num_classes) if cls_images[c]]
    cls_rng = np.random.default_rng([seed, epoch, 0])
    img_rng = {}
    cls_queue: List[int] = []
    img_queue = {c: [] for c in classes}
    out = []
    c, left = None, 0
    for _ in range(num_samples):
        if left == 0:
            if not cls_queue:
                perm = cls_rng.random(len(classes)).argsort(kind='stable')
                cls_queue = [classes[j] for j in perm][::-1]  # pop() from end
            c, left = cls_queue.pop(), samples_per_class
        left -= 1
        if not img_queue[c]:
            if c not in img_rng:
                img_rng[c] = np.random.default_rng([seed, epoch, c + 1])
            perm = img_rng[c].random(len(cls_images[c])).argsort(
                kind='stable')
            img_queue[c] = [cls_images[c][j] for j in perm][::-1]
        out.append(img_queue[c].pop())
    return out


@DATASETS.register_module()
class ClassAwareDataset(EpochIndexedDataset):
    """Dataset wrapper for class-aware sampling (see module docstring).

    ``len`` is ``num_samples`` (default: the wrapped dataset's length); the
    table is redrawn every epoch from (seed, epoch) — add
    ``RepeatFactorEpochHook`` (alias ``DatasetEpochHook``) to
    ``custom_hooks`` — and must be read in order: use
    ``sampler=dict(type='DefaultSampler', shuffle=False)`` (the hook warns
    about ``shuffle=True``). Classes without images are skipped.

    Args:
        dataset (BaseDataset | dict): dataset or its config; labels come
            from ``cat_ids_csr()`` (``LongTailLVISDataset``) or
            ``get_cat_ids``.
        num_samples (int, optional): samples per epoch. The EQLv2 cRT recipe
            draws 75000 * 16 for its single "epoch".
        seed (int): seed of the class and image permutations.
        lazy_init (bool): defer reading the labels to first use.
        samples_per_class (int): images taken in a row per drawn class
            (the DB repo's ``num_samples_cls``, 3 there).
        reduce (float, optional): with ``num_samples=None``, draw
            ``int(max_c n_c * C / reduce)`` samples per epoch (n_c = #images
            of class c; the DB repo's ``ClassAwareSampler(reduce=4)``).
    """

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 num_samples: Optional[int] = None,
                 seed: int = 0,
                 lazy_init: bool = False,
                 samples_per_class: int = 1,
                 reduce: Optional[float] = None) -> None:
        super().__init__(dataset)
        if num_samples is not None and (
                isinstance(num_samples, bool)
                or not isinstance(num_samples, (int, np.integer))
                or num_samples <= 0):
            raise ValueError(
                'ClassAwareDataset: `num_samples` must be a positive int '
                f'(samples per epoch) or None, got {num_samples!r}')
        self.num_samples = None if num_samples is None else int(num_samples)
        if isinstance(samples_per_class, bool) or not isinstance(
                samples_per_class, (int, np.integer)) or samples_per_class < 1:
            raise ValueError(
                'ClassAwareDataset: `samples_per_class` must be an int >= 1, '
                f'got {samples_per_class!r}')
        if reduce is not None and not reduce > 0:
            raise ValueError('ClassAwareDataset: `reduce` must be > 0, got '
                             f'{reduce!r}')
        self.samples_per_class = int(samples_per_class)
        self.reduce = reduce
        self.seed = int(seed)
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        offsets, labels, num_classes = dataset_label_csr(self.dataset)
        self.cls_offsets, self.cls_images = class_image_csr(
            offsets, labels, num_classes)
        self.num_classes = num_classes
        sizes = np.diff(self.cls_offsets)
        if not (sizes > 0).any():
            raise ValueError(
                f'ClassAwareDataset: the wrapped {type(self.dataset).__name__}'
                ' has no image with a label; check its ann_file/filter_cfg')
        if self.num_samples is not None:
            self._length = self.num_samples
        elif self.reduce is not None:
            self._length = max(
                1, int(int(sizes.max()) * num_classes / self.reduce))
        else:
            self._length = len(self.dataset)
        self._fully_initialized = True
        empty = int((sizes == 0).sum())
        print_log(
            f'ClassAwareDataset: {len(offsets) - 1} images, '
            f'{num_classes - empty}/{num_classes} classes with images'
            f'{" (the others are skipped)" if empty else ""} -> '
            f'{self._length} samples/epoch (seed={self.seed})',
            logger='current',
            level=logging.INFO)

    def epoch_indices(self, epoch: Optional[int] = None) -> np.ndarray:
        """Indices into the wrapped dataset for ``epoch`` (default: current).
        """
        self.full_init()
        epoch = self.epoch if epoch is None else int(epoch)
        return class_aware_indices(
            self.cls_offsets,
            self.cls_images,
            self._length,
            self.seed,
            epoch,
            samples_per_class=self.samples_per_class)
