"""LVIS (v1 / v0.5) dataset with file validation and compact label arrays."""
import copy
import os.path as osp
from collections import defaultdict
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.fileio import get_local_path

from mmdet.datasets import LVISV1Dataset
from mmdet.registry import DATASETS
from .class_stats import (AnnotationError, ClassStats, get_class_stats,
                          load_annotation_json, unique_sorted)

__all__ = ['LongTailLVISDataset', 'build_label_csr']


class _IdList(list):
    """A list of category ids with O(1) ``in``.

    mmdet's ``parse_data_info`` tests ``category_id in self.cat_ids`` for
    every box; with a plain list of 1,203 ids that alone costs ~15 s on LVIS
    v1 train.
    """

    def __init__(self, ids=()):
        super().__init__(ids)
        self._set = frozenset(self)

    def __contains__(self, x) -> bool:
        return x in self._set


def build_label_csr(data_list: Sequence[dict],
                    num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """Unique ``bbox_label`` s of each image as CSR arrays.

    Image ``i`` has labels ``labels[offsets[i]:offsets[i+1]]`` (ascending,
    unique).  Built with one sort-unique over ``img * C + label``.

    Returns:
        tuple: ``offsets`` int64[N+1], ``labels`` int64[nnz].
    """
    n = len(data_list)
    per_img = [[inst['bbox_label'] for inst in d['instances']]
               for d in data_list]
    counts = np.fromiter((len(x) for x in per_img), np.int64, count=n)
    flat = np.fromiter((lab for x in per_img for lab in x),
                       np.int64,
                       count=int(counts.sum()))
    img = np.repeat(np.arange(n, dtype=np.int64), counts)
    key = unique_sorted(img * num_classes + flat)
    labels = key % num_classes
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(key // num_classes, minlength=n), out=offsets[1:])
    return offsets, labels


@DATASETS.register_module()
class LongTailLVISDataset(LVISV1Dataset):
    """LVIS dataset whose classes come from the annotation file.

    Unlike mmdet's ``LVISV1Dataset`` (hard-coded 1,203 names) the classes
    are the file's ``categories`` sorted by id, so LVIS v1, v0.5 and the toy
    sets all work without ``metainfo``; a given ``metainfo['classes']`` must
    equal them.  The file is loaded once and validated by
    :func:`mmlt.datasets.class_stats.get_class_stats` (which also caches the
    class statistics); boxes are parsed by mmdet's
    ``CocoDataset.parse_data_info`` and images filtered by its
    ``filter_data``.  Per-image unique labels are kept as CSR arrays
    (:meth:`cat_ids_csr`) aligned with the final (filtered, sliced) indices.

    Args:
        version (str): 'v1' (image path from ``coco_url``) or 'v0.5'
            (``file_name``, COCO-2014 names mapped to 2017 ones).
        check_images (bool): raise if image files are missing.
        stats_file (str, optional): precomputed :class:`ClassStats` json for
            :attr:`class_stats`; also relaxes the check that the category
            table carries ``frequency``/``image_count``.
        strict (bool): require LVIS category fields (see ``ClassStats``).
        *args, **kwargs: as ``mmdet.datasets.LVISV1Dataset``.
    """

    METAINFO = {'classes': None, 'palette': None}

    def __init__(self,
                 *args,
                 version: str = 'v1',
                 check_images: bool = True,
                 stats_file: Optional[str] = None,
                 strict: bool = True,
                 **kwargs) -> None:
        if version not in ('v1', 'v0.5'):
            raise ValueError(
                f"version must be 'v1' or 'v0.5', got {version!r}")
        self.version = version
        self.check_images = check_images
        self.stats_file = stats_file
        self.strict = strict
        self._csr: Optional[Tuple[np.ndarray, np.ndarray]] = None
        super().__init__(*args, **kwargs)

    # ---------------------------------------------------------- metainfo
    @property
    def metainfo(self) -> dict:
        if self._metainfo.get('classes') is None and self._local_ann_file():
            # lazy_init: answer from the (cached) class stats, no full load
            names = get_class_stats(
                self.ann_file, strict=self._validate_strict).names
            self._metainfo['classes'] = names
        return copy.deepcopy(self._metainfo)

    @property
    def _validate_strict(self) -> bool:
        # with a stats file the category table need not carry LVIS counts
        return bool(self.strict and not self.stats_file)

    def _local_ann_file(self) -> bool:
        return (bool(self.ann_file) and self.backend_args is None
                and osp.isfile(self.ann_file))

    def _set_classes(self, names: tuple) -> None:
        given = self._metainfo.get('classes')
        if given is not None:
            given = tuple(given) if not isinstance(given, str) else (given, )
            if given != names:
                if len(given) != len(names):
                    what = (f'has {len(given)} names but the file defines '
                            f'{len(names)} categories')
                else:
                    i = next(i for i, (a, b) in enumerate(zip(given, names))
                             if a != b)
                    what = (f'differs from the file at label {i}: '
                            f'{given[i]!r} vs {names[i]!r} (category id '
                            f'{self.cat_ids[i]})')
                raise AnnotationError(
                    f"metainfo['classes'] {what} in {self.ann_file}; "
                    'LongTailLVISDataset reads the classes from the '
                    "file's 'categories' (sorted by id): drop metainfo="
                    'dict(classes=...) from the config or make it match')
        self._metainfo['classes'] = names

    # -------------------------------------------------------------- load
    def _file_name(self, img: dict) -> str:
        if self.version == 'v1' and 'coco_url' in img:
            # v1 keeps split/name in coco_url: http://.../train2017/x.jpg
            return img['coco_url'].replace('http://images.cocodataset.org/',
                                           '')
        name = img.get('file_name')
        if name is None:
            key = 'coco_url' if self.version == 'v1' else 'file_name'
            raise AnnotationError(
                f"image {img.get('id')} in {self.ann_file} has no '{key}' "
                f"field; LVIS {self.version} images need it to locate the "
                'image file')
        if self.version == 'v0.5' and name.startswith('COCO'):
            # COCO_train2014_000000000009.jpg -> 000000000009.jpg
            name = name[-16:]
        return name

    def load_data_list(self) -> List[dict]:
        """Load, validate and parse ``self.ann_file`` (one json load)."""
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            data = load_annotation_json(local_path)
            # validates the file (errors name it) and warms the stats cache
            get_class_stats(
                local_path, strict=self._validate_strict, _data=data)

        cats = sorted(data['categories'], key=lambda c: c['id'])
        self.cat_ids = _IdList(c['id'] for c in cats)
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self._set_classes(tuple(str(c['name']) for c in cats))

        anns = data['annotations']
        if self.ANN_ID_UNIQUE and anns and all('id' in a for a in anns):
            ids = np.fromiter((a['id'] for a in anns), np.int64, len(anns))
            if len(unique_sorted(ids)) != len(ids):
                raise AnnotationError(
                    f"annotation ids in {self.ann_file} are not unique; "
                    "each annotation needs its own 'id'")
        img_anns = defaultdict(list)
        cat_img_map = defaultdict(list)
        for ann in anns:
            img_anns[ann['image_id']].append(ann)
            cat_img_map[ann['category_id']].append(ann['image_id'])
        # used by mmdet's CocoDataset.filter_data (filter_empty_gt)
        self.cat_img_map = cat_img_map

        data_list = []
        for img in data['images']:
            raw_img_info = dict(img)
            raw_img_info['img_id'] = img['id']
            raw_img_info['file_name'] = self._file_name(img)
            data_list.append(
                self.parse_data_info({
                    'raw_ann_info': img_anns.get(img['id'], []),
                    'raw_img_info': raw_img_info
                }))
        return data_list

    def full_init(self) -> None:
        """BaseDetDataset.full_init plus the label CSR and image check.

        Both must see the final list: after filtering and ``indices``
        slicing, and before serialization empties ``data_list``.
        """
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        if self.proposal_file is not None:
            self.load_proposals()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        self._set_csr(*build_label_csr(self.data_list, len(self.cat_ids)))
        if self.check_images:
            self._check_images(self.data_list)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def _check_images(self, data_list: List[dict]) -> None:
        if self.backend_args is not None and \
                self.backend_args.get('backend', 'local') != 'local':
            return
        missing = [
            d['img_path'] for d in data_list
            if '://' not in d['img_path'] and not osp.exists(d['img_path'])
        ]
        if missing:
            first = '\n  '.join(missing[:5])
            raise FileNotFoundError(
                f'{len(missing)} of {len(data_list)} images listed in '
                f'{self.ann_file} are missing, e.g.\n  {first}\n'
                'Generate the toy data with tools/make_toy_lvis.py or point '
                "data_root / data_prefix=dict(img=...) at your LVIS/COCO "
                'images (or pass check_images=False).')

    # --------------------------------------------------------------- CSR
    def _set_csr(self, offsets: np.ndarray, labels: np.ndarray) -> None:
        offsets.flags.writeable = False
        labels.flags.writeable = False
        self._csr = (offsets, labels)

    def cat_ids_csr(self) -> Tuple[np.ndarray, np.ndarray]:
        """(offsets int64[N+1], labels int64[nnz]) of unique labels per
        image, read-only, aligned with dataset indices."""
        self.full_init()
        return self._csr

    def get_cat_ids(self, idx: int) -> List[int]:
        """Unique labels (``bbox_label``, not category ids — like mmdet) of
        image ``idx``."""
        offsets, labels = self.cat_ids_csr()
        if idx < 0:
            idx += len(offsets) - 1
        return labels[offsets[idx]:offsets[idx + 1]].tolist()

    def _csr_subset(self, indices: Union[int, Sequence[int]]):
        offsets, labels = self._csr
        n = len(offsets) - 1
        if isinstance(indices, int):
            idx = np.arange(n)[:indices] if indices >= 0 else \
                np.arange(n)[indices:]
        else:
            idx = np.asarray(indices, dtype=np.int64) % max(n, 1)
        counts = offsets[idx + 1] - offsets[idx]
        new_off = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=new_off[1:])
        # gather each selected segment: position = start + rank in segment
        starts = np.repeat(offsets[idx], counts)
        rank = np.arange(new_off[-1]) - np.repeat(new_off[:-1], counts)
        return new_off, labels[starts + rank]

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        self.full_init()
        csr = self._csr_subset(indices)
        super().get_subset_(indices)
        self._set_csr(*csr)

    def get_subset(self, indices: Union[Sequence[int], int]):
        self.full_init()
        sub = super().get_subset(indices)
        sub._set_csr(*self._csr_subset(indices))
        return sub

    # ------------------------------------------------------------- stats
    @property
    def class_stats(self) -> ClassStats:
        """Training-set class statistics of ``ann_file`` (or
        ``stats_file``), cached; independent of filtering/slicing."""
        stats = get_class_stats(
            self.ann_file,
            stats_file=self.stats_file,
            strict=self._validate_strict)
        classes = self.metainfo.get('classes')
        if classes is not None and tuple(classes) != stats.names:
            src = self.stats_file or self.ann_file
            raise AnnotationError(
                f'class stats from {src} list {stats.num_classes} classes '
                f'that do not match the {len(classes)} classes of '
                f'{self.ann_file}; regenerate the stats file with '
                'tools/misc/class_stats.py from this ann_file')
        return stats
