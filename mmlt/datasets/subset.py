"""Training subset of the images that contain tail classes (the "fine-tune
on tail" baseline of BAGS, Li et al. CVPR 2020)."""
import copy
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmdet.registry import DATASETS
from .class_stats import GROUPS, ClassStats, get_class_stats

__all__ = ['ClassSubsetDataset', 'select_classes', 'images_with_classes']


def select_classes(stats: ClassStats,
                   groups: Optional[Sequence[str]] = ('r', 'c'),
                   instance_thr: Optional[int] = None) -> np.ndarray:
    """Bool mask [C] of the selected classes: ``instance_count <
    instance_thr`` when a threshold is given, else membership in the LVIS
    frequency ``groups``."""
    if instance_thr is not None:
        return stats.instance_count < int(instance_thr)
    groups = list(groups or ())
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise ValueError(f'ClassSubsetDataset: groups must be a non-empty '
                         f'subset of {list(GROUPS)}, got {groups}')
    return np.isin(stats.groups, groups)


def images_with_classes(offsets: np.ndarray, labels: np.ndarray,
                        selected: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the images whose label list (CSR) contains at
    least one selected class."""
    offsets = np.asarray(offsets, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    img = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    hit = np.zeros(len(offsets) - 1, dtype=bool)
    hit[img[selected[labels]]] = True
    return np.flatnonzero(hit)


def _label_csr(dataset) -> Tuple[np.ndarray, np.ndarray]:
    """(offsets, labels) with labels = ``bbox_label`` values."""
    if hasattr(dataset, 'cat_ids_csr'):
        offsets, labels = dataset.cat_ids_csr()
        return np.asarray(offsets, np.int64), np.asarray(labels, np.int64)
    per_img = [list(dataset.get_cat_ids(i)) for i in range(len(dataset))]
    counts = np.array([len(x) for x in per_img], dtype=np.int64)
    offsets = np.zeros(len(per_img) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    labels = np.array([c for x in per_img for c in x], dtype=np.int64)
    return offsets, labels


@DATASETS.register_module()
class ClassSubsetDataset:
    """Keep only the training images that contain at least one instance of
    the selected classes.

    Selected classes: the LVIS frequency ``groups`` (default rare + common,
    from :mod:`mmlt.datasets.class_stats`), or, with ``instance_thr``, the
    classes with fewer than ``instance_thr`` training instances. The other
    annotations of a kept image are **kept**: they are real labels, and
    dropping them would turn those objects into background RoIs that
    penalise their own (mostly frequent) classes.

    The wrapper exposes ``cat_ids_csr`` of the subset, so sampling wrappers
    (``RepeatFactorDataset``, ``ClassAwareDataset``) can wrap it.

    Args:
        dataset (BaseDataset | dict): training dataset (or its config); its
            ``get_cat_ids`` / ``cat_ids_csr`` must return label indices.
        groups (sequence[str]): subset of ('r', 'c', 'f').
        instance_thr (int, optional): select classes with
            ``instance_count < instance_thr`` instead of groups.
        ann_file / stats_file (str, optional): class statistics; default:
            the wrapped dataset's ``class_stats`` (``LongTailLVISDataset``).
        lazy_init (bool): defer the selection to first use.
    """

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 groups: Sequence[str] = ('r', 'c'),
                 instance_thr: Optional[int] = None,
                 ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 lazy_init: bool = False) -> None:
        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dataset)
        else:
            self.dataset = dataset
        if instance_thr is not None and int(instance_thr) < 1:
            raise ValueError('ClassSubsetDataset: instance_thr must be >= 1, '
                             f'got {instance_thr}')
        self.groups = tuple(groups) if groups else ()
        self.instance_thr = instance_thr
        self.ann_file = ann_file
        self.stats_file = stats_file
        self._metainfo = getattr(self.dataset, 'metainfo', {})
        self._fully_initialized = False
        self.indices: Optional[np.ndarray] = None
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def class_stats(self) -> ClassStats:
        if self.ann_file or self.stats_file:
            return get_class_stats(
                ann_file=self.ann_file, stats_file=self.stats_file)
        stats = getattr(self.dataset, 'class_stats', None)
        if stats is None:
            raise ValueError(
                'ClassSubsetDataset: the wrapped dataset has no class_stats; '
                'set ann_file= (training annotations) or stats_file= '
                '(tools/misc/class_stats.py) in the ClassSubsetDataset '
                'config')
        return stats() if callable(stats) else stats

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        stats = self.class_stats()
        selected = select_classes(stats, self.groups, self.instance_thr)
        offsets, labels = _label_csr(self.dataset)
        if len(labels) and labels.max() >= stats.num_classes:
            raise ValueError(
                f'ClassSubsetDataset: the dataset has label {labels.max()} '
                f'but the class statistics ({stats.source}) have '
                f'{stats.num_classes} classes; use statistics of this '
                'dataset\'s annotation file')
        self.indices = images_with_classes(offsets, labels, selected)
        if not len(self.indices):
            how = (f'instance_count < {self.instance_thr}'
                   if self.instance_thr is not None else
                   f'groups {list(self.groups)}')
            raise ValueError(
                f'ClassSubsetDataset: no training image contains a class '
                f'with {how} ({int(selected.sum())} such classes); choose '
                'other groups or a larger instance_thr')
        self.selected_classes = np.flatnonzero(selected)
        # CSR of the kept images, for wrappers that sample by class
        counts = offsets[self.indices + 1] - offsets[self.indices]
        new_off = np.zeros(len(self.indices) + 1, dtype=np.int64)
        np.cumsum(counts, out=new_off[1:])
        starts = np.repeat(offsets[self.indices], counts)
        rank = np.arange(new_off[-1]) - np.repeat(new_off[:-1], counts)
        self._csr = (new_off, labels[starts + rank])
        self._fully_initialized = True
        print_log(
            f'ClassSubsetDataset: {len(self.indices)} of {len(offsets) - 1} '
            f'images contain one of {len(self.selected_classes)} selected '
            'classes (' + (f'instance_count < {self.instance_thr}' if
                           self.instance_thr is not None else
                           'groups ' + '+'.join(self.groups)) + ')',
            logger='current',
            level=logging.INFO)

    # ---------------------------------------------------------- interface
    def __len__(self) -> int:
        self.full_init()
        return len(self.indices)

    def _ori(self, idx: int) -> int:
        return int(self.indices[idx])

    def __getitem__(self, idx: int):
        self.full_init()
        return self.dataset[self._ori(idx)]

    def get_data_info(self, idx: int) -> dict:
        self.full_init()
        return self.dataset.get_data_info(self._ori(idx))

    def cat_ids_csr(self) -> Tuple[np.ndarray, np.ndarray]:
        self.full_init()
        return self._csr

    def get_cat_ids(self, idx: int) -> List[int]:
        self.full_init()
        off, labels = self._csr
        if idx < 0:
            idx += len(off) - 1
        return labels[off[idx]:off[idx + 1]].tolist()

    def get_subset_(self, indices):
        raise NotImplementedError(
            'ClassSubsetDataset does not support get_subset(_): slice the '
            'wrapped dataset (indices=...) instead')

    get_subset = get_subset_
