"""LongTailLVISDataset on a tiny hand-made LVIS v1 file with real images."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmlt.datasets import class_stats as cs
from mmlt.datasets import LongTailLVISDataset, RepeatFactorDataset
from mmlt.datasets.class_stats import AnnotationError


def _url(i, split='train2017'):
    return f'http://images.cocodataset.org/{split}/{i:012d}.jpg'


def make_lvis_dict():
    """Categories 1 apple (f), 3 bus (c), 7 cat (r); 4 images, #3 empty.

    image 1: apple, apple, bus -> labels {0, 1}
    image 2: cat               -> {2}
    image 3: (none)
    image 4: bus               -> {1}
    """
    cats = [
        dict(id=7, name='cat', synset='cat.n.01', frequency='r',
             image_count=1, instance_count=1),
        dict(id=1, name='apple', synset='apple.n.01', frequency='f',
             image_count=1, instance_count=2),
        dict(id=3, name='bus', synset='bus.n.01', frequency='c',
             image_count=2, instance_count=2),
    ]
    images = [
        dict(id=i, width=32, height=24, coco_url=_url(i),
             neg_category_ids=[], not_exhaustive_category_ids=[])
        for i in (1, 2, 3, 4)
    ]
    pairs = [(1, 1), (1, 1), (1, 3), (2, 7), (4, 3)]
    anns = [
        dict(id=k + 1, image_id=img, category_id=cat, bbox=[2, 3, 8, 6],
             area=48.0, segmentation=[[2, 3, 10, 3, 10, 9, 2, 9]])
        for k, (img, cat) in enumerate(pairs)
    ]
    return dict(categories=cats, images=images, annotations=anns)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setattr(cs, '_MEMO', {})


@pytest.fixture
def lvis_root(tmp_path):
    root = tmp_path / 'lvis'
    os.makedirs(root / 'train2017')
    for img in make_lvis_dict()['images']:
        path = osp.join(root, img['coco_url'].split('.org/')[1])
        cv2.imwrite(path, np.full((24, 32, 3), 127, np.uint8))
    write(root / 'train.json', make_lvis_dict())
    return str(root)


def write(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def build(root, ann='train.json', **kw):
    kw.setdefault('data_prefix', dict(img=''))
    kw.setdefault('pipeline', [])
    return LongTailLVISDataset(data_root=root, ann_file=ann, **kw)


TRAIN_FILTER = dict(filter_empty_gt=True, min_size=0)


def test_classes_from_file_and_parsing(lvis_root):
    ds = build(lvis_root, test_mode=True)
    assert ds.metainfo['classes'] == ('apple', 'bus', 'cat')
    assert ds.cat_ids == [1, 3, 7]
    assert len(ds) == 4  # empty image kept in test mode
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(lvis_root, 'train2017',
                                        '000000000001.jpg')
    assert [i['bbox_label'] for i in info['instances']] == [0, 0, 1]
    assert info['instances'][0]['bbox'] == [2, 3, 10, 9]  # xywh -> xyxy
    assert ds.get_data_info(2)['instances'] == []
    offsets, labels = ds.cat_ids_csr()
    assert offsets.tolist() == [0, 2, 3, 3, 4]
    assert labels.tolist() == [0, 1, 2, 1]
    assert ds.get_cat_ids(0) == [0, 1] and ds.get_cat_ids(2) == []


@pytest.mark.parametrize('serialize', [True, False])
def test_train_filter_and_csr_alignment(lvis_root, serialize):
    ds = build(lvis_root, filter_cfg=TRAIN_FILTER, serialize_data=serialize)
    assert len(ds) == 3  # empty image 3 filtered like mmdet does
    assert [ds.get_data_info(i)['img_id'] for i in range(3)] == [1, 2, 4]
    assert [ds.get_cat_ids(i) for i in range(3)] == [[0, 1], [2], [1]]
    offsets, labels = ds.cat_ids_csr()
    assert offsets.tolist() == [0, 2, 3, 4]

    sliced = build(lvis_root, filter_cfg=TRAIN_FILTER, indices=[2, 0],
                   serialize_data=serialize)
    assert [sliced.get_data_info(i)['img_id'] for i in range(2)] == [4, 1]
    assert [sliced.get_cat_ids(i) for i in range(2)] == [[1], [0, 1]]

    sub = ds.get_subset([1, 2])
    assert [sub.get_cat_ids(i) for i in range(2)] == [[2], [1]]
    assert [ds.get_cat_ids(i) for i in range(3)] == [[0, 1], [2], [1]]
    ds.get_subset_(-1)
    assert len(ds) == 1 and ds.get_cat_ids(0) == [1]
    assert ds.get_data_info(0)['img_id'] == 4


def test_metainfo_must_match_file(lvis_root):
    ok = build(lvis_root, metainfo=dict(classes=('apple', 'bus', 'cat')))
    assert ok.metainfo['classes'] == ('apple', 'bus', 'cat')
    with pytest.raises(AnnotationError) as e:
        build(lvis_root, metainfo=dict(classes=('apple', 'bus')))
    assert 'has 2 names' in str(e.value) and 'train.json' in str(e.value)
    with pytest.raises(AnnotationError, match="'dog' vs 'cat'"):
        build(lvis_root, metainfo=dict(classes=('apple', 'bus', 'dog')))


def test_missing_images(lvis_root):
    os.remove(osp.join(lvis_root, 'train2017', '000000000002.jpg'))
    with pytest.raises(FileNotFoundError) as e:
        build(lvis_root, test_mode=True)
    msg = str(e.value)
    assert '1 of 4 images' in msg and '000000000002.jpg' in msg
    assert 'make_toy_lvis' in msg and 'data_root' in msg
    assert len(build(lvis_root, test_mode=True, check_images=False)) == 4


def test_validation_errors_name_file(lvis_root):
    d = make_lvis_dict()
    d['annotations'][0]['category_id'] = 99
    path = write(osp.join(lvis_root, 'bad.json'), d)
    with pytest.raises(AnnotationError) as e:
        build(lvis_root, ann='bad.json')
    assert path in str(e.value) and "'category_id'" in str(e.value)

    d = make_lvis_dict()
    del d['categories'][0]['frequency']
    write(osp.join(lvis_root, 'nofreq.json'), d)
    with pytest.raises(AnnotationError, match="'frequency'.*stats_file"):
        build(lvis_root, ann='nofreq.json')
    # a stats file makes the category fields optional
    stats = cs.ClassStats.from_lvis_json(make_lvis_dict(), source='x')
    stats.save(osp.join(lvis_root, 'stats.json'))
    ds = build(lvis_root, ann='nofreq.json',
               stats_file=osp.join(lvis_root, 'stats.json'))
    assert ds.class_stats.groups.tolist() == ['f', 'c', 'r']

    write(osp.join(lvis_root, 'empty.json'),
          dict(make_lvis_dict(), categories=[]))
    with pytest.raises(AnnotationError, match="empty 'categories'"):
        build(lvis_root, ann='empty.json')


def test_class_stats_property_and_lazy_init(lvis_root):
    ds = build(lvis_root, lazy_init=True)
    assert ds.metainfo['classes'] == ('apple', 'bus', 'cat')
    s = ds.class_stats
    assert s.image_count.tolist() == [1, 2, 1]  # apple, bus, cat
    assert s.instance_count.tolist() == [2, 2, 1]
    assert s.num_images == 4 and s.groups.tolist() == ['f', 'c', 'r']
    assert len(ds) == 4


def test_v05_file_names(tmp_path):
    d = make_lvis_dict()
    for img in d['images']:
        del img['coco_url']
        img['file_name'] = f"COCO_val2014_{img['id']:012d}.jpg"
    ann = write(tmp_path / 'v05.json', d)
    ds = LongTailLVISDataset(
        ann_file=ann, version='v0.5', data_prefix=dict(img='imgs/'),
        check_images=False, pipeline=[], test_mode=True)
    assert ds.get_data_info(0)['img_path'] == 'imgs/000000000001.jpg'


def test_rfs_over_dataset_uses_csr(lvis_root):
    # train set: labels {0,1}, {2}, {1} over 3 images; f = 1/3, 2/3, 1/3;
    # t = 3: r = sqrt(9)=3, sqrt(4.5), 3 -> r_I = 3, 3, sqrt(4.5)
    rfs = RepeatFactorDataset(
        dict(type='LongTailLVISDataset', data_root=lvis_root,
             ann_file='train.json', data_prefix=dict(img=''),
             filter_cfg=TRAIN_FILTER, pipeline=[]),
        thr=3.0)
    np.testing.assert_allclose(rfs.repeat_factors, [3, 3, np.sqrt(4.5)])
    assert len(rfs) == 3 + 3 + 3
    assert rfs.metainfo['classes'] == ('apple', 'bus', 'cat')
    assert rfs.get_cat_ids(3) == [2]
