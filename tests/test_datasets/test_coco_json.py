"""CocoJsonClassesDataset: classes from the json (id order), duplicate names
kept apart, explicit metainfo still selects by name, clear errors."""
import json

import pytest

import mmlt  # noqa: F401
from mmdet.registry import DATASETS


def write(tmp_path, cats):
    js = dict(
        images=[dict(id=1, file_name='a.jpg', width=100, height=80)],
        annotations=[
            dict(id=1, image_id=1, category_id=7, bbox=[1, 1, 20, 20],
                 area=400, iscrowd=0),
            dict(id=2, image_id=1, category_id=3, bbox=[30, 30, 20, 20],
                 area=400, iscrowd=0),
        ],
        categories=cats)
    p = tmp_path / 'a.json'
    p.write_text(json.dumps(js))
    return str(p)


def build(path, **kw):
    return DATASETS.build(
        dict(type='CocoJsonClassesDataset', ann_file=path,
             data_prefix=dict(img=''), pipeline=[], **kw))


def test_classes_from_json_in_list_order_with_duplicate_names(tmp_path):
    path = write(tmp_path, [dict(id=7, name='Mouse'), dict(id=3, name='Bench'),
                            dict(id=5, name='Mouse')])
    ds = build(path)
    assert ds.metainfo['classes'] == ('Mouse', 'Bench', 'Mouse')
    assert ds.cat_ids == [7, 3, 5]
    # annotations of category 7 -> label 0, category 3 -> label 1
    labels = [i['bbox_label'] for i in ds.get_data_info(0)['instances']]
    assert labels == [0, 1]


def test_same_labels_as_coco_dataset_with_unique_names(tmp_path):
    path = write(tmp_path, [dict(id=7, name='a'), dict(id=3, name='b'),
                            dict(id=5, name='c')])
    ours = build(path)
    ref = DATASETS.build(
        dict(type='CocoDataset', ann_file=path, data_prefix=dict(img=''),
             pipeline=[], metainfo=dict(classes=('a', 'b', 'c'))))
    assert ours.cat_ids == ref.cat_ids
    assert ours.get_data_info(0)['instances'] == ref.get_data_info(0)[
        'instances']


def test_explicit_classes_select_by_name(tmp_path):
    path = write(tmp_path, [dict(id=7, name='cat'), dict(id=3, name='dog')])
    ds = build(path, metainfo=dict(classes=('cat', )))
    assert ds.metainfo['classes'] == ('cat', )
    assert [i['bbox_label'] for i in ds.get_data_info(0)['instances']] == [0]


@pytest.mark.parametrize('cats, match', [
    ([], 'categories'),
    ([dict(name='x')], r'categories\[0\]'),
])
def test_bad_categories(tmp_path, cats, match):
    with pytest.raises(ValueError, match=match):
        build(write(tmp_path, cats))
