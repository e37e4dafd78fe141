"""ClassSubsetDataset: keeps exactly the images with a selected-class
instance (LVIS groups or an instance-count threshold), keeps their other
annotations, exposes the subset's CSR, and fails clearly on bad input."""
import json

import numpy as np
import pytest

import mmlt  # noqa: F401
from mmdet.registry import DATASETS
from mmlt.datasets import ClassStats, ClassSubsetDataset
from mmlt.datasets.subset import images_with_classes

# classes 0..3 with groups f, r, c, f; per-image labels
PER_IMAGE = [[0], [1, 0], [3], [2, 3, 0], [], [0, 3], [1]]
STATS = ClassStats([10, 20, 30, 40], list('abcd'), [4, 2, 1, 3],
                   [150, 2, 40, 300], 7, list('frcf'))


class ListDataset:
    """Minimal dataset: items are their own index, labels via get_cat_ids."""

    def __init__(self, per_image=PER_IMAGE, stats=STATS):
        self.per_image = per_image
        self.class_stats = stats
        self.metainfo = dict(classes=tuple('abcd'))

    def __len__(self):
        return len(self.per_image)

    def __getitem__(self, idx):
        return idx

    def get_data_info(self, idx):
        return dict(idx=idx, labels=self.per_image[idx])

    def get_cat_ids(self, idx):
        return self.per_image[idx]


def test_rare_common_images_hand():
    ds = ClassSubsetDataset(ListDataset())  # default groups r + c
    # r = class 1, c = class 2 -> images 1, 3, 6
    assert ds.indices.tolist() == [1, 3, 6]
    assert len(ds) == 3 and [ds[i] for i in range(3)] == [1, 3, 6]
    # the frequent annotations of kept images stay
    assert ds.get_data_info(1)['labels'] == [2, 3, 0]
    assert ds.get_cat_ids(1) == [2, 3, 0]
    off, labels = ds.cat_ids_csr()
    assert off.tolist() == [0, 2, 5, 6]
    assert labels.tolist() == [1, 0, 2, 3, 0, 1]
    assert ds.selected_classes.tolist() == [1, 2]
    assert ds.metainfo == dict(classes=tuple('abcd'))


def test_groups_and_instance_threshold():
    ds = ClassSubsetDataset(ListDataset(), groups=['r'])
    assert ds.indices.tolist() == [1, 6]
    # instance_count < 100: classes 1 (2) and 2 (40)
    ds = ClassSubsetDataset(ListDataset(), instance_thr=100)
    assert ds.indices.tolist() == [1, 3, 6]
    # < 200: also class 0 (150) -> every image with 0, 1 or 2
    ds = ClassSubsetDataset(ListDataset(), instance_thr=200)
    assert ds.indices.tolist() == [0, 1, 3, 5, 6]


def test_images_with_classes_csr():
    off = np.array([0, 1, 3, 3, 5])
    labels = np.array([0, 1, 2, 2, 0])
    sel = np.array([False, False, True])
    assert images_with_classes(off, labels, sel).tolist() == [1, 3]


def test_errors():
    with pytest.raises(ValueError, match='no training image'):
        ClassSubsetDataset(ListDataset([[0], [3]]))
    with pytest.raises(ValueError, match='groups must be'):
        ClassSubsetDataset(ListDataset(), groups=['x'])
    with pytest.raises(ValueError, match='instance_thr'):
        ClassSubsetDataset(ListDataset(), instance_thr=0)
    bad = ListDataset()
    bad.class_stats = None
    with pytest.raises(ValueError, match='set ann_file'):
        ClassSubsetDataset(bad)
    with pytest.raises(ValueError, match='label 5'):
        ClassSubsetDataset(ListDataset([[5], [1]]))


def write_lvis(tmp_path):
    """3 classes (f, r, c by the file's frequency field), 4 images."""
    cats = [
        dict(id=1, name='cat_f', frequency='f', image_count=3),
        dict(id=2, name='cat_r', frequency='r', image_count=1),
        dict(id=3, name='cat_c', frequency='c', image_count=1),
    ]
    images = [
        dict(id=i, width=64, height=64,
             coco_url=f'http://x/train2017/{i:012d}.jpg')
        for i in (1, 2, 3, 4)
    ]
    anns, k = [], 1
    for img, cat in [(1, 1), (2, 1), (2, 2), (3, 3), (4, 1)]:
        anns.append(dict(id=k, image_id=img, category_id=cat,
                         bbox=[4, 4, 20, 20], area=400,
                         segmentation=[[4, 4, 24, 4, 24, 24, 4, 24]]))
        k += 1
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(dict(categories=cats, images=images,
                                    annotations=anns)))
    return str(path)


def test_on_lvis_dataset_config(tmp_path):
    ann = write_lvis(tmp_path)
    ds = DATASETS.build(
        dict(type='ClassSubsetDataset',
             dataset=dict(type='LongTailLVISDataset', ann_file=ann,
                          data_prefix=dict(img=''), pipeline=[],
                          check_images=False)))
    # images 2 (r + f) and 3 (c) are kept, image 2 with both boxes
    ids = [ds.get_data_info(i)['img_id'] for i in range(len(ds))]
    assert ids == [2, 3]
    labels = [x['bbox_label'] for x in ds.get_data_info(0)['instances']]
    assert sorted(labels) == [0, 1]
    # statistics from an explicit file: only 'r'
    ds = DATASETS.build(
        dict(type='ClassSubsetDataset', groups=['r'], ann_file=ann,
             dataset=dict(type='LongTailLVISDataset', ann_file=ann,
                          data_prefix=dict(img=''), pipeline=[],
                          check_images=False)))
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == [2]
