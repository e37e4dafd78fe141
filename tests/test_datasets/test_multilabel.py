"""Multi-label datasets (COCO/LVIS json, VOC xml), the multi-label class
statistics of class_stats, class-aware sampling over them, and the
pipeline's transforms."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import mmlt  # noqa: F401
from mmdet.registry import DATASETS, TRANSFORMS
from mmlt.datasets.class_aware import class_aware_indices
from mmlt.datasets.class_stats import (AnnotationError, cooccurrence_prob,
                                       get_multilabel_stats,
                                       multilabel_freq_info,
                                       multilabel_split, split_indices)

# image -> category ids (1-based); image 5 has no box, image 6 two boxes of
# category 3
IMAGES = {1: [1], 2: [1, 2], 3: [2, 3], 4: [3], 5: [], 6: [3, 3]}


def write_coco(root, images=IMAGES, with_files=True):
    root = str(root)
    cats = [dict(id=i, name=f'c{i}') for i in (1, 2, 3)]
    imgs, anns = [], []
    for img_id, cat_ids in images.items():
        name = f'train2017/{img_id:012d}.jpg'
        imgs.append(dict(id=img_id, file_name=name, width=32, height=24))
        if with_files:
            path = osp.join(root, name)
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, np.full((24, 32, 3), 10 * img_id, np.uint8))
        for c in cat_ids:
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=c, bbox=[1, 1, 5, 5], area=25,
                             iscrowd=0))
    ann = osp.join(root, 'ann.json')
    with open(ann, 'w') as f:
        json.dump(dict(images=imgs, annotations=anns, categories=cats), f)
    return ann


def build_coco(root, **kw):
    cfg = dict(type='MultiLabelCocoDataset', data_root=str(root),
               ann_file='ann.json', data_prefix=dict(img=''), pipeline=[])
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_split_and_cooccurrence_by_hand():
    assert multilabel_split([150, 100, 99, 20, 19, 0]).tolist() == [
        'head', 'head', 'medium', 'medium', 'tail', 'tail'
    ]
    idx = split_indices(multilabel_split([150, 50, 5]))
    assert {k: v.tolist() for k, v in idx.items()} == dict(
        head=[0], medium=[1], tail=[2])
    # images: {0}, {0,1}, {1,2}, {2}, {2 twice}; class 3 absent
    offsets = np.array([0, 1, 3, 5, 6, 8])
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    p = cooccurrence_prob(offsets, labels, 4)
    assert np.allclose(p, [
        [1, 1 / 2, 0, 0],
        [1 / 2, 1, 1 / 2, 0],
        [0, 1 / 3, 1, 0],
        [0, 0, 0, 0],
    ])
    info = multilabel_freq_info(offsets, labels, 4)
    assert info['class_freq'].tolist() == [2, 2, 3, 0]
    assert info['neg_class_freq'].tolist() == [3, 3, 2, 5]


def test_coco_dataset_labels_filter_and_stats(tmp_path):
    write_coco(tmp_path)
    ds = build_coco(tmp_path)
    assert ds.metainfo['classes'] == ('c1', 'c2', 'c3')
    assert len(ds) == 5  # image 5 has no label and is dropped
    assert [ds.get_cat_ids(i) for i in range(5)] == [[0], [0, 1], [1, 2],
                                                     [2], [2]]
    item = ds.get_data_info(1)
    assert item['img_id'] == 2
    assert item['img_path'] == osp.join(str(tmp_path),
                                        'train2017/000000000002.jpg')
    assert ds.gt_labels().tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 1],
                                       [0, 0, 1], [0, 0, 1]]
    st = ds.class_stats
    assert st.image_count.tolist() == [2, 2, 3] and st.num_images == 5
    info = ds.freq_info()
    assert info['neg_class_freq'].tolist() == [3, 3, 2]
    assert info['condition_prob'][2].tolist() == pytest.approx(
        [0, 1 / 3, 1])
    assert ds.class_split().tolist() == ['tail'] * 3
    # the same numbers without building the dataset (loss / metric path)
    ml = get_multilabel_stats(ann_file=str(tmp_path / 'ann.json'),
                              cache=False)
    assert ml.image_count.tolist() == [2, 2, 3] and ml.num_images == 5
    assert ml.instance_count.tolist() == [2, 2, 4]
    # test mode keeps empty images
    test = build_coco(tmp_path, test_mode=True)
    assert len(test) == 6 and test.get_cat_ids(4) == []


def test_coco_dataset_image_id_subset(tmp_path):
    write_coco(tmp_path)
    (tmp_path / 'ids.txt').write_text('4\n2\n5\n')
    ds = build_coco(tmp_path, img_id_file='ids.txt')
    # listed order, empty image 5 dropped
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == [4, 2]
    stats = get_multilabel_stats(
        ann_file=str(tmp_path / 'ann.json'),
        img_id_file=str(tmp_path / 'ids.txt'), cache=False)
    assert stats.image_count.tolist() == ds.class_stats.image_count.tolist()
    assert stats.num_images == 2
    (tmp_path / 'bad.txt').write_text('4\n99\n')
    with pytest.raises(AnnotationError, match='1 of 2 listed image ids'):
        build_coco(tmp_path, img_id_file='bad.txt')


def test_class_aware_over_multilabel_dataset(tmp_path):
    write_coco(tmp_path)
    wrapped = DATASETS.build(
        dict(type='ClassAwareDataset',
             dataset=dict(type='MultiLabelCocoDataset',
                          data_root=str(tmp_path), ann_file='ann.json',
                          data_prefix=dict(img=''), pipeline=[]),
             samples_per_class=3, num_samples=18, seed=0))
    idx = wrapped.epoch_indices(0)
    assert len(wrapped) == 18
    offsets, labels = wrapped.dataset.cat_ids_csr()
    # every run of 3 samples shares a class; each window of 9 holds every
    # class 3 times
    _, classes = class_aware_indices(wrapped.cls_offsets,
                                     wrapped.cls_images, 18, 0, 0,
                                     return_classes=True,
                                     samples_per_class=3)
    assert (classes.reshape(-1, 3) == classes.reshape(-1, 3)[:, :1]).all()
    for w in range(2):
        assert sorted(classes[9 * w:9 * w + 9].tolist()) == [0] * 3 + \
            [1] * 3 + [2] * 3
    for i, c in zip(idx, classes):
        assert c in labels[offsets[i]:offsets[i + 1]]
    # reduce: max_c n_c * C / reduce = 3 * 3 / 2
    r = DATASETS.build(
        dict(type='ClassAwareDataset', dataset=wrapped.dataset, reduce=2))
    assert len(r) == 4


def test_voc_dataset(tmp_path):
    root = tmp_path / 'VOC2012'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    objs = {'a1': [('dog', 0), ('person', 0)], 'a2': [('cat', 1)],
            'a3': [('person', 0), ('person', 1)]}
    for name, obj in objs.items():
        xml = '<annotation>' + ''.join(
            f'<object><name>{n}</name><difficult>{d}</difficult></object>'
            for n, d in obj) + '</annotation>'
        (root / 'Annotations' / f'{name}.xml').write_text(xml)
        cv2.imwrite(str(root / 'JPEGImages' / f'{name}.jpg'),
                    np.zeros((8, 8, 3), np.uint8))
    (root / 'ImageSets' / 'Main' / 'trainval.txt').write_text('a1\na2\na3\n')
    cfg = dict(type='MultiLabelVOCDataset', data_root=str(tmp_path),
               ann_file='VOC2012/ImageSets/Main/trainval.txt',
               data_prefix=dict(sub_data_root='VOC2012/'), pipeline=[])
    ds = DATASETS.build(cfg)
    # a2 has only a difficult object -> no label -> dropped for training
    assert len(ds) == 2
    assert ds.get_cat_ids(0) == [11, 14]  # dog, person
    assert ds.get_cat_ids(1) == [14]
    with_diff = DATASETS.build(dict(cfg, with_difficult=True))
    assert with_diff.get_cat_ids(1) == [7]  # cat
    (tmp_path / 'lt.txt').write_text('a3\n')
    sub = DATASETS.build(dict(cfg, img_id_file='lt.txt'))
    assert len(sub) == 1 and sub.get_data_info(0)['img_id'] == 'a3'
    (root / 'Annotations' / 'a3.xml').write_text(
        '<annotation><object><name>unicorn</name></object></annotation>')
    with pytest.raises(AnnotationError, match='unknown class'):
        DATASETS.build(cfg)


def test_pipeline_transforms(tmp_path):
    from mmengine.dataset import Compose
    write_coco(tmp_path)
    np.random.seed(0)
    pipeline = Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='LoadImageFromFile'),
            dict(type='PhotoMetricDistortion'),
            dict(type='RandomRatioCrop', min_ratio=0.8),
            dict(type='Resize', scale=(20, 16), keep_ratio=False),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackMultiLabelInputs'),
        ]
    ])
    ds = build_coco(tmp_path, pipeline=pipeline.transforms)
    out = ds[1]
    assert out['inputs'].shape == (3, 16, 20)
    assert out['data_samples'].gt_label.tolist() == [0, 1]
    assert out['data_samples'].img_id == 2
    crop = TRANSFORMS.build(dict(type='RandomRatioCrop', min_ratio=0.8))
    for _ in range(20):
        r = crop(dict(img=np.zeros((100, 50, 3), np.uint8)))
        h, w = r['img'].shape[:2]
        assert 79 <= h <= 100 and 39 <= w <= 50
        assert 0.5 <= h / w <= 2.0 + 0.05


def test_select_voc_ids_names_missing_ids():
    from mmlt.datasets.class_stats import AnnotationError
    from mmlt.datasets.multilabel import select_voc_ids
    ids = ['2008_000001', '2008_000002', '2008_000003']
    assert select_voc_ids(ids, ['2008_000003', '2008_000001'], 'x', 'y') == \
        ['2008_000003', '2008_000001']
    with pytest.raises(AnnotationError,
                       match=r"^1 ids of l\.txt are not in trainval\.txt "
                       r"\(e\.g\. \['2009_000009'\]\)$"):
        select_voc_ids(ids, ['2008_000002', '2009_000009'], 'ids of l.txt',
                       'trainval.txt')
