"""Multi-label (image-level) datasets: COCO-MLT, VOC-MLT and the toy set.

Every image becomes one sample whose label is the set of classes that
have at least one object in it (Distribution-Balanced loss, Wu et al.,
ECCV 2020). A long-tailed subset is given by an image-id list, one id per
line (``tools/create_longtail_dataset.py`` writes one; the original's
``appendix/coco/longtail2017/img_id.pkl`` and
``appendix/VOCdevkit/longtail2012/img_id.txt`` are such text files too).

* :class:`MultiLabelCocoDataset` reads any COCO/LVIS-format json: COCO
  2017 for COCO-MLT, and the embedded toy LVIS set.
* :class:`MultiLabelVOCDataset` reads Pascal VOC (``ImageSets/Main`` id
  lists + ``Annotations/*.xml``): VOC 2012 trainval for VOC-MLT training,
  VOC 2007 test for its evaluation.

A sample's ``gt_label`` is the int64 array of its (unique, ascending)
labels; ``PackMultiLabelInputs`` carries it to the model, which builds the
multi-hot matrix. Per-image labels are also kept as CSR arrays
(:meth:`MultiLabelDataset.cat_ids_csr`), which ``ClassAwareDataset`` reads,
and the class statistics of the loaded set (:attr:`class_stats`,
:meth:`freq_info`, :meth:`class_split`) come from
:mod:`mmlt.datasets.class_stats`.
"""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from mmdet.registry import DATASETS
from .class_stats import (AnnotationError, ClassStats, load_annotation_json,
                          multilabel_csr_from_json, multilabel_freq_info,
                          multilabel_split, read_img_id_file)

__all__ = [
    'MultiLabelDataset', 'MultiLabelCocoDataset', 'MultiLabelVOCDataset',
    'VOC_CLASSES', 'load_voc_image_labels'
]

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
               'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')


def _csr_of(data_list: Sequence[dict]) -> Tuple[np.ndarray, np.ndarray]:
    counts = np.fromiter((len(d['gt_label']) for d in data_list), np.int64,
                         len(data_list))
    offsets = np.zeros(len(data_list) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    labels = np.concatenate([np.asarray(d['gt_label'], np.int64)
                             for d in data_list]) if len(data_list) else \
        np.zeros(0, np.int64)
    return offsets, labels.astype(np.int64)


class MultiLabelDataset(BaseDataset):
    """Base of the multi-label datasets (see the module docstring).

    Subclasses implement :meth:`load_data_list` returning dicts with
    ``img_path``, ``img_id`` and ``gt_label`` (int64 array) and set the
    classes in ``self._metainfo['classes']``.

    Args:
        ann_file (str): annotation file (json, or VOC id list).
        img_id_file (str, optional): ids of the long-tailed subset, one per
            line; relative paths are joined with ``data_root``.
        filter_empty_gt (bool): drop images without any label when not in
            ``test_mode`` (they carry no positive and the original's
            training lists never hold one).
        check_images (bool): raise if image files are missing.
        backend_args (dict, optional): file backend of ``ann_file``.
        **kwargs: as ``mmengine.dataset.BaseDataset``.
    """

    METAINFO = {'classes': None}

    def __init__(self,
                 *args,
                 img_id_file: Optional[str] = None,
                 filter_empty_gt: bool = True,
                 check_images: bool = True,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.backend_args = backend_args
        self.img_id_file = img_id_file
        self.filter_empty_gt = filter_empty_gt
        self.check_images = check_images
        self._csr: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._stats: Optional[ClassStats] = None
        super().__init__(*args, **kwargs)

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.img_id_file and not osp.isabs(self.img_id_file) and \
                self.data_root:
            self.img_id_file = osp.join(self.data_root, self.img_id_file)

    def _img_ids(self) -> Optional[list]:
        return read_img_id_file(self.img_id_file) if self.img_id_file \
            else None

    def _set_classes(self, names: Sequence[str]) -> None:
        names = tuple(names)
        given = self._metainfo.get('classes')
        if given is not None and tuple(given) != names:
            raise AnnotationError(
                f"metainfo['classes'] ({len(given)} names) differ from the "
                f'{len(names)} classes of {self.ann_file}; drop '
                'metainfo=dict(classes=...) from the config or make it match')
        self._metainfo['classes'] = names

    @property
    def num_classes(self) -> int:
        return len(self._metainfo['classes'])

    def filter_data(self) -> List[dict]:
        if self.test_mode or not self.filter_empty_gt:
            return self.data_list
        return [d for d in self.data_list if len(d['gt_label'])]

    def full_init(self) -> None:
        """Load, filter and slice, then build the label CSR (before
        serialization empties ``data_list``)."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        offsets, labels = _csr_of(self.data_list)
        offsets.flags.writeable = False
        labels.flags.writeable = False
        self._csr = (offsets, labels)
        if self.check_images:
            self._check_images()
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def _check_images(self) -> None:
        missing = [d['img_path'] for d in self.data_list
                   if '://' not in d['img_path']
                   and not osp.exists(d['img_path'])]
        if missing:
            first = '\n  '.join(missing[:5])
            raise FileNotFoundError(
                f'{len(missing)} of {len(self.data_list)} images of '
                f'{self.ann_file} are missing, e.g.\n  {first}\nPoint '
                'data_root / data_prefix=dict(img=...) at the images (or '
                'pass check_images=False).')

    # ---------------------------------------------------------- labels
    def cat_ids_csr(self) -> Tuple[np.ndarray, np.ndarray]:
        """(offsets int64[N+1], labels int64[nnz]) of each image's labels,
        read-only, aligned with dataset indices (for ClassAwareDataset)."""
        self.full_init()
        return self._csr

    def get_cat_ids(self, idx: int) -> List[int]:
        offsets, labels = self.cat_ids_csr()
        if idx < 0:
            idx += len(offsets) - 1
        return labels[offsets[idx]:offsets[idx + 1]].tolist()

    def gt_labels(self) -> np.ndarray:
        """Multi-hot label matrix, uint8[N, C]."""
        offsets, labels = self.cat_ids_csr()
        out = np.zeros((len(offsets) - 1, self.num_classes), np.uint8)
        out[np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)),
            labels] = 1
        return out

    def get_subset_(self, indices) -> None:
        raise NotImplementedError(
            f'{type(self).__name__}: use indices=... in the config')

    get_subset = get_subset_

    # ----------------------------------------------------------- stats
    @property
    def class_stats(self) -> ClassStats:
        """Image-level statistics of this (filtered, sliced) set:
        ``image_count`` = class_freq, ``num_images`` = N."""
        if self._stats is None:
            offsets, labels = self.cat_ids_csr()
            self._stats = ClassStats.from_image_labels(
                offsets, labels, self.num_classes,
                names=self._metainfo['classes'],
                source=self.img_id_file or self.ann_file)
        return self._stats.copy()

    def freq_info(self) -> dict:
        """The original's ``class_freq.pkl`` fields: ``class_freq``,
        ``neg_class_freq``, ``condition_prob`` (P(j|i), [C, C])."""
        offsets, labels = self.cat_ids_csr()
        return multilabel_freq_info(offsets, labels, self.num_classes)

    def class_split(self) -> np.ndarray:
        """'head' / 'medium' / 'tail' per class (>= 100, 20-99, < 20
        images of this set)."""
        return multilabel_split(self.class_stats.image_count)


@DATASETS.register_module()
class MultiLabelCocoDataset(MultiLabelDataset):
    """Image-level labels from a COCO/LVIS-format json (COCO-MLT, toy).

    The image path is ``data_prefix['img'] / file_name`` (or, for LVIS v1
    files without ``file_name``, the ``train2017/x.jpg`` part of
    ``coco_url``). Classes are the file's categories sorted by id (label
    ``i`` = ``cat_ids[i]``, like mmdet's ``cat2label``).
    """

    def load_data_list(self) -> List[dict]:
        with get_local_path(self.ann_file,
                            backend_args=self.backend_args) as path:
            data = load_annotation_json(path)
        info = multilabel_csr_from_json(
            data, self.ann_file, self._img_ids(), drop_empty=False)
        self.cat_ids = info['cat_ids'].tolist()
        self._set_classes(info['names'])
        prefix = self.data_prefix.get('img', '') or ''
        images = data['images']
        offsets, labels = info['offsets'], info['labels']
        data_list = []
        for row, i in enumerate(info['image_index'].tolist()):
            img = images[i]
            name = img.get('file_name')
            if name is None:
                url = img.get('coco_url')
                if url is None:
                    raise AnnotationError(
                        f"image {img['id']} in {self.ann_file} has neither "
                        "'file_name' nor 'coco_url'")
                name = '/'.join(url.split('/')[-2:])
            data_list.append(
                dict(
                    img_path=osp.join(prefix, name),
                    img_id=int(img['id']),
                    height=img.get('height'),
                    width=img.get('width'),
                    gt_label=labels[offsets[row]:offsets[row + 1]].copy()))
        return data_list


def load_voc_image_labels(
        sub_root: str,
        img_ids: Sequence[str],
        classes: Sequence[str] = VOC_CLASSES,
        with_difficult: bool = False,
        progress: bool = False) -> List[np.ndarray]:
    """Unique labels (int64, ascending) of each VOC image from
    ``sub_root/Annotations/<id>.xml``.

    Objects flagged ``difficult`` give no label unless ``with_difficult``
    (mmdet's VOC loader puts them in ``ignore``). Unknown class names raise
    an AnnotationError naming the file.
    """
    cls2label = {c: i for i, c in enumerate(classes)}
    out = []
    it = img_ids
    if progress:
        from tqdm import tqdm
        it = tqdm(img_ids, desc='reading VOC xml', leave=False)
    for img_id in it:
        path = osp.join(sub_root, 'Annotations', f'{img_id}.xml')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} does not exist; is {sub_root} a VOC year folder '
                '(VOC2012/, VOC2007/) with Annotations/?')
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise AnnotationError(f'{path} is not valid XML ({e})') from e
        labs = set()
        for obj in root.findall('object'):
            name_el = obj.find('name')
            if name_el is None or name_el.text is None:
                raise AnnotationError(f'{path}: an <object> has no <name>')
            name = name_el.text.strip()
            if name not in cls2label:
                raise AnnotationError(
                    f'{path}: unknown class {name!r}; expected one of the '
                    f'{len(classes)} VOC classes')
            diff = obj.find('difficult')
            if not with_difficult and diff is not None and \
                    diff.text is not None and int(diff.text) == 1:
                continue
            labs.add(cls2label[name])
        out.append(np.array(sorted(labs), dtype=np.int64))
    return out


def read_voc_id_list(path: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist; VOC ann_file is an ImageSets/Main id '
            'list such as VOC2012/ImageSets/Main/trainval.txt')
    with open(path) as f:
        return [line.strip().split()[0] for line in f if line.strip()]


def select_voc_ids(ids: Sequence[str], subset: Sequence, what: str,
                   where: str) -> List[str]:
    """``subset`` (as strings) after checking that every id is in ``ids``;
    the error names the ids (``what``) and the list they miss (``where``)."""
    known = set(ids)
    subset = [str(i) for i in subset]
    miss = [i for i in subset if i not in known]
    if miss:
        raise AnnotationError(f'{len(miss)} {what} are not in {where} '
                              f'(e.g. {miss[:5]})')
    return subset


@DATASETS.register_module()
class MultiLabelVOCDataset(MultiLabelDataset):
    """Image-level labels of Pascal VOC (VOC-MLT).

    ``ann_file`` is an ``ImageSets/Main`` id list (e.g.
    ``VOC2012/ImageSets/Main/trainval.txt``), ``data_prefix=dict(
    sub_data_root='VOC2012/')`` the year folder holding ``JPEGImages/`` and
    ``Annotations/`` (mmdet's convention). ``img_id_file`` (the VOC-MLT
    list) keeps the listed ids, in its order.

    Args:
        with_difficult (bool): let ``difficult`` objects give labels.
    """

    METAINFO = {'classes': VOC_CLASSES}

    def __init__(self, *args, with_difficult: bool = False, **kwargs):
        self.with_difficult = with_difficult
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        sub_root = self.data_prefix.get('sub_data_root', '')
        ids = read_voc_id_list(self.ann_file)
        subset = self._img_ids()
        if subset is not None:
            ids = select_voc_ids(ids, subset, f'ids of {self.img_id_file}',
                                 self.ann_file)
        labels = load_voc_image_labels(sub_root, ids,
                                       self._metainfo['classes'],
                                       self.with_difficult)
        return [
            dict(
                img_path=osp.join(sub_root, 'JPEGImages', f'{i}.jpg'),
                img_id=i,
                gt_label=lab) for i, lab in zip(ids, labels)
        ]
