"""Repeat factor sampling (LVIS paper, Gupta et al. 2019, App. B.2).

::

    f_c = (#images containing c) / N          (N includes empty images)
    r_c = max(1, sqrt(t / f_c))
    r_I = max_{c in I} r_c                    (r_I = 1 for images w/o labels)

Same formula as detectron2's ``RepeatFactorTrainingSampler`` and mmengine's
``ClassBalancedDataset``, computed with numpy on CSR label arrays.
"""
import copy
import logging
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmdet.registry import DATASETS
from .class_stats import ClassStats, unique_sorted

__all__ = [
    'compute_repeat_factors', 'RepeatFactorDataset', 'dataset_label_csr',
    'EpochIndexedDataset'
]


def compute_repeat_factors(offsets: np.ndarray,
                           labels: np.ndarray,
                           num_classes: int,
                           thr: float = 1e-3) -> np.ndarray:
    """Image repeat factors ``r_I`` (float64[N]) from per-image labels.

    Args:
        offsets: int[N+1] CSR offsets; image i has
            ``labels[offsets[i]:offsets[i+1]]`` (duplicates are harmless).
        labels: int[nnz] in [0, num_classes).
        num_classes: C.
        thr: the threshold ``t``; classes with ``f_c >= t`` are not
            oversampled.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    stats = ClassStats.from_image_labels(offsets, labels, num_classes)
    # f_c = fraction of the dataset's images (mmengine ClassBalancedDataset,
    # detectron2 RepeatFactorTrainingSampler): every image of the dataset
    # counts, also one without annotations that the dataset keeps
    freq = stats.image_frequency_of('all')
    r_c = np.ones(num_classes, dtype=np.float64)
    present = freq > 0
    # same operation order as mmengine (t / (n / N)) so ceil() agrees
    r_c[present] = np.maximum(1.0, np.sqrt(thr / freq[present]))

    n = len(offsets) - 1
    r_img = np.ones(n, dtype=np.float64)
    nonempty = offsets[1:] > offsets[:-1]
    if nonempty.any():
        # reduceat over non-empty segments only: an empty segment would
        # return the element at its start instead of an identity
        r_img[nonempty] = np.maximum.reduceat(r_c[labels],
                                              offsets[:-1][nonempty])
    return r_img


def dataset_label_csr(dataset) -> Tuple[np.ndarray, np.ndarray, int]:
    """(offsets, labels, num_classes) of a dataset.

    Uses ``dataset.cat_ids_csr()`` when available (labels in [0, C) with
    C = len(metainfo['classes'])); otherwise loops ``get_cat_ids`` and
    compacts whatever ids it returns to 0..K-1.
    """
    if hasattr(dataset, 'cat_ids_csr'):
        offsets, labels = dataset.cat_ids_csr()
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        num_classes = len(classes) if classes is not None else (
            int(labels.max()) + 1 if len(labels) else 1)
        return (np.asarray(offsets, np.int64), np.asarray(labels, np.int64),
                num_classes)
    from tqdm import tqdm
    n = len(dataset)
    per_img = [
        list(dataset.get_cat_ids(i))
        for i in tqdm(range(n), desc='RFS: reading labels', leave=False,
                      disable=n < 10000)
    ]
    counts = np.fromiter((len(x) for x in per_img), np.int64, count=n)
    flat = np.fromiter((c for x in per_img for c in x),
                       np.int64,
                       count=int(counts.sum()))
    uniq = unique_sorted(flat)
    labels = np.searchsorted(uniq, flat)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, labels.reshape(-1).astype(np.int64), max(len(uniq), 1)


class EpochIndexedDataset:
    """Base of dataset wrappers that map their indices to the wrapped
    dataset through a per-epoch index table (:class:`RepeatFactorDataset`,
    :class:`mmlt.datasets.ClassAwareDataset`).

    The epoch lives in a shared-memory tensor written by :meth:`set_epoch`
    (e.g. by ``RepeatFactorEpochHook``) and read in ``__getitem__``, so
    DataLoader workers, persistent ones included, rebuild their table when
    it changes. Subclasses implement ``full_init`` (setting ``_length``) and
    ``epoch_indices(epoch)``; ``_static_table`` marks an epoch-independent
    table kept in ``_table``.
    """

    _static_table = False

    def __init__(self, dataset: Union[BaseDataset, dict]) -> None:
        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dataset)
        else:
            self.dataset = dataset
        self._metainfo = getattr(self.dataset, 'metainfo', {})
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._table: Optional[np.ndarray] = None
        self._table_epoch = -1
        self._fully_initialized = False

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        raise NotImplementedError

    def epoch_indices(self, epoch: Optional[int] = None) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------- epochs
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's index table (visible to worker processes)."""
        if not self._epoch.is_shared():  # e.g. unpickled copy
            self._epoch.share_memory_()
        self._epoch[0] = int(epoch)

    def __deepcopy__(self, memo):
        # mmengine's Runner deep-copies the dataloader config, dataset
        # instance included; a deep-copied tensor is private memory, so
        # give the copy its own *shared* epoch tensor
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key == '_epoch':
                value = value.clone().share_memory_()
            else:
                value = copy.deepcopy(value, memo)
            new.__dict__[key] = value
        return new

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def _ori_index(self, idx: int) -> int:
        if not self._static_table:
            epoch = int(self._epoch[0])
            if self._table is None or epoch != self._table_epoch:
                self._table = self.epoch_indices(epoch)
                self._table_epoch = epoch
        return int(self._table[idx])

    # ---------------------------------------------------------- interface
    def __len__(self) -> int:
        self.full_init()
        return self._length

    def __getitem__(self, idx: int):
        self.full_init()
        return self.dataset[self._ori_index(idx)]

    def get_data_info(self, idx: int) -> dict:
        self.full_init()
        return self.dataset.get_data_info(self._ori_index(idx))

    def get_cat_ids(self, idx: int) -> List[int]:
        self.full_init()
        return self.dataset.get_cat_ids(self._ori_index(idx))

    def get_subset_(self, indices):
        raise NotImplementedError(
            f'{type(self).__name__} does not support get_subset(_): slice '
            'the wrapped dataset (indices=...) instead')

    get_subset = get_subset_


@DATASETS.register_module()
class RepeatFactorDataset(EpochIndexedDataset):
    """Dataset wrapper that repeats images by their repeat factor ``r_I``.

    Rounding of the fractional factors:

    * ``'ceil'`` (mmengine ``ClassBalancedDataset``): image I appears
      ``ceil(r_I)`` times every epoch; ``len = sum_I ceil(r_I)``.
    * ``'stochastic'`` (detectron2): in epoch e image I appears
      ``floor(r_I) + Bernoulli(r_I - floor(r_I))`` times, drawn from
      ``np.random.Generator(PCG64([seed, e]))`` — a function of (seed, e)
      only, so every rank builds the same table — and the list is shuffled
      with the same generator.  Epoch-based loops need a fixed length, so
      ``len = round(sum_I r_I)`` and each epoch's list is truncated or
      cycled to it; ``E[count_I] ~= r_I``.

    The epoch reaches DataLoader workers as described in
    :class:`EpochIndexedDataset` (call ``set_epoch`` each epoch, e.g. with
    ``RepeatFactorEpochHook``).

    Args:
        dataset (BaseDataset | dict): dataset or its config.
        thr (float): frequency threshold ``t``.
        rounding (str): 'ceil' or 'stochastic'.
        seed (int): seed of the stochastic rounding.
        lazy_init (bool): defer the factor computation to first use.
    """

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 thr: float = 1e-3,
                 rounding: str = 'ceil',
                 seed: int = 0,
                 lazy_init: bool = False) -> None:
        super().__init__(dataset)
        if rounding not in ('ceil', 'stochastic'):
            raise ValueError(
                f"rounding must be 'ceil' or 'stochastic', got {rounding!r}")
        self.thr = float(thr)
        self.rounding = rounding
        self.seed = int(seed)
        self._static_table = rounding == 'ceil'
        if not lazy_init:
            self.full_init()

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        offsets, labels, num_classes = dataset_label_csr(self.dataset)
        self.repeat_factors = compute_repeat_factors(offsets, labels,
                                                     num_classes, self.thr)
        if self.rounding == 'ceil':
            self._table = np.repeat(
                np.arange(len(self.repeat_factors), dtype=np.int64),
                np.ceil(self.repeat_factors).astype(np.int64))
            self._length = len(self._table)
        else:
            self._length = int(round(float(self.repeat_factors.sum())))
        self._fully_initialized = True
        print_log(
            f'RepeatFactorDataset: {len(self.repeat_factors)} images -> '
            f'{self._length} samples/epoch (thr={self.thr}, '
            f'rounding={self.rounding})',
            logger='current',
            level=logging.INFO)

    def epoch_indices(self, epoch: Optional[int] = None) -> np.ndarray:
        """Indices into the wrapped dataset for ``epoch`` (default: current).
        """
        self.full_init()
        if self.rounding == 'ceil':
            return self._table
        epoch = self.epoch if epoch is None else int(epoch)
        rng = np.random.Generator(np.random.PCG64([self.seed, epoch]))
        r = self.repeat_factors
        base = np.floor(r)
        counts = base.astype(np.int64) + (rng.random(len(r)) <
                                          (r - base)).astype(np.int64)
        idx = np.repeat(np.arange(len(r), dtype=np.int64), counts)
        rng.shuffle(idx)
        if len(idx) == 0:
            return idx
        # fixed length: truncate, or cycle through the shuffled list
        return np.resize(idx, self._length)
