"""ClassStats: counts, groups, caching, validation errors, CLI."""
import copy
import importlib.util
import json
import os
import os.path as osp
import warnings

import numpy as np
import pytest

from mmlt.datasets import class_stats as cs
from mmlt.datasets.class_stats import (AnnotationError, ClassStats,
                                       ClassStatsMismatchWarning,
                                       get_class_stats)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _url(i):
    return f'http://images.cocodataset.org/train2017/{i:012d}.jpg'


def make_lvis_dict():
    """3 classes (ids deliberately unsorted), 6 images, image 6 empty.

    image 1: apple x2, bus | 2: apple | 3: bus, cat | 4: cat | 5: apple
    => image_count apple 3, bus 2, cat 2; instances apple 4, bus 2, cat 2.
    """
    cats = [
        dict(id=3, name='bus', synset='bus.n.01', frequency='c',
             image_count=2, instance_count=2),
        dict(id=1, name='apple', synset='apple.n.01', frequency='f',
             image_count=3, instance_count=4),
        dict(id=7, name='cat', synset='cat.n.01', frequency='r',
             image_count=2, instance_count=2),
    ]
    images = [
        dict(id=i, width=32, height=24, coco_url=_url(i),
             neg_category_ids=[], not_exhaustive_category_ids=[])
        for i in range(1, 7)
    ]
    pairs = [(1, 1), (1, 1), (1, 3), (2, 1), (3, 3), (3, 7), (4, 7), (5, 1)]
    anns = [
        dict(id=k + 1, image_id=img, category_id=cat, bbox=[2, 2, 8, 6],
             area=48.0, segmentation=[[2, 2, 10, 2, 10, 8, 2, 8]])
        for k, (img, cat) in enumerate(pairs)
    ]
    return dict(categories=cats, images=images, annotations=anns)


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setattr(cs, '_MEMO', {})


def test_counts_groups_frequency(tmp_path):
    path = write_json(tmp_path / 'a.json', make_lvis_dict())
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # consistent table: no warning
        s = ClassStats.from_lvis_json(path)
    assert s.cat_ids.tolist() == [1, 3, 7]
    assert s.names == ('apple', 'bus', 'cat')
    assert s.image_count.tolist() == [3, 2, 2]
    assert s.instance_count.tolist() == [4, 2, 2]
    assert s.num_images == 6 and s.num_classes == 3
    assert s.groups.tolist() == ['f', 'c', 'r']
    # 5 of the 6 images have annotations: the originals' frequency divides
    # by those (LVIS v1: 99,388 of 100,170), 'all' by every image
    assert s.num_annotated_images == 5
    np.testing.assert_allclose(s.image_frequency, [3 / 5, 2 / 5, 2 / 5])
    np.testing.assert_allclose(s.image_frequency_of('all'),
                               [3 / 6, 2 / 6, 2 / 6])
    with pytest.raises(ValueError, match="'annotated' or 'all'"):
        s.image_frequency_of('some')
    gi = s.group_indices()
    assert gi['f'].tolist() == [0] and gi['c'].tolist() == [1]
    assert gi['r'].tolist() == [2]


def test_from_image_labels_lvis_groups():
    # class k in the first n_k images; class 4 in none; image 0 has class 0
    # twice (2 instances, 1 image)
    n_k = [10, 11, 100, 101, 0]
    per_img = [[k for k in range(5) if i < n_k[k]] for i in range(102)]
    per_img[0] = [0] + per_img[0]
    offsets = np.cumsum([0] + [len(x) for x in per_img])
    labels = np.concatenate([np.array(x, dtype=np.int64) for x in per_img])
    s = ClassStats.from_image_labels(offsets, labels, 5)
    assert s.image_count.tolist() == [10, 11, 100, 101, 0]
    assert s.instance_count.tolist() == [11, 11, 100, 101, 0]
    assert s.num_images == 102
    assert s.groups.tolist() == ['r', 'c', 'c', 'f', 'r']
    assert s.num_annotated_images == 101  # image 101 has no label
    s2 = ClassStats.from_image_labels(offsets, labels, 5, num_images=204)
    # 102 extra empty images count in 'all' only
    np.testing.assert_allclose(s2.image_frequency_of('all')[:2],
                               [10 / 204, 11 / 204])
    np.testing.assert_allclose(s2.image_frequency[:2], [10 / 101, 11 / 101])
    with pytest.raises(ValueError, match='labels must lie'):
        ClassStats.from_image_labels(offsets, labels, 3)


def test_mismatch_warning_names_file(tmp_path):
    d = make_lvis_dict()
    d['categories'][1]['image_count'] = 5  # apple: table 5, counted 3
    path = write_json(tmp_path / 'subset.json', d)
    with pytest.warns(ClassStatsMismatchWarning) as rec:
        s = ClassStats.from_lvis_json(path)
    msg = str(rec[0].message)
    assert path in msg and '1 of 3 classes' in msg and 'apple' in msg
    assert s.image_count.tolist() == [3, 2, 2]  # recounted values win


def test_cache_memo_disk_and_invalidation(tmp_path, monkeypatch):
    path = write_json(tmp_path / 'a.json', make_lvis_dict())
    s1 = get_class_stats(path)
    cache_files = os.listdir(tmp_path / 'cache')
    assert len(cache_files) == 1

    def boom(*a, **k):
        raise AssertionError('recomputed despite cache')

    monkeypatch.setattr(ClassStats, 'from_lvis_json', boom)
    assert get_class_stats(path) == s1  # in-process hit
    monkeypatch.setattr(cs, '_MEMO', {})
    s_disk = get_class_stats(path)  # disk hit
    assert s_disk == s1 and s_disk.source == path
    monkeypatch.undo()
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))

    # changed file (size+mtime) -> recomputed
    d = make_lvis_dict()
    d['annotations'] = d['annotations'][:-1]  # drop image 5's apple
    write_json(path, d)
    os.utime(path, ns=(1, 1))
    with pytest.warns(ClassStatsMismatchWarning):  # table now stale
        s2 = get_class_stats(path)
    assert s2.image_count.tolist() == [2, 2, 2]


def test_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    blocker = tmp_path / 'not_a_dir'
    blocker.write_text('x')
    monkeypatch.setenv('MMLT_CACHE_DIR', str(blocker / 'sub'))
    path = write_json(tmp_path / 'a.json', make_lvis_dict())
    assert get_class_stats(path).image_count.tolist() == [3, 2, 2]
    # corrupt cache entry -> recomputed, no error
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'c2'))
    monkeypatch.setattr(cs, '_MEMO', {})
    key = ('ann', ) + cs._file_key(path) + (True, )
    os.makedirs(tmp_path / 'c2')
    with open(cs._disk_path(key), 'w') as f:
        f.write('{garbage')
    assert get_class_stats(path).instance_count.tolist() == [4, 2, 2]


def test_stats_file_roundtrip_and_precedence(tmp_path):
    path = write_json(tmp_path / 'a.json', make_lvis_dict())
    s = ClassStats.from_lvis_json(path)
    out = str(tmp_path / 'stats.json')
    s.save(out)
    loaded = ClassStats.load(out)
    assert loaded == s and loaded.groups.dtype.kind == 'U'
    other = s.copy()
    other.num_images = 1000
    other.save(out)
    got = get_class_stats(ann_file=path, stats_file=out)
    assert got.num_images == 1000
    with open(out, 'w') as f:
        json.dump({'cat_ids': [1]}, f)
    os.utime(out, ns=(5, 5))
    with pytest.raises(AnnotationError, match="no 'names' field") as e:
        get_class_stats(stats_file=out)
    assert out in str(e.value)


def _err(tmp_path, data, name='bad.json', strict=True):
    path = write_json(tmp_path / name, data) if not isinstance(
        data, str) else data
    with pytest.raises(AnnotationError) as e:
        ClassStats.from_lvis_json(path, strict=strict)
    msg = str(e.value)
    assert path in msg
    return msg


def test_errors_name_file_and_field(tmp_path):
    p = tmp_path / 'notjson.json'
    p.write_text('this is not json {')
    assert 'not a JSON' in _err(tmp_path, str(p))

    d = make_lvis_dict()
    del d['annotations']
    assert "'annotations'" in _err(tmp_path, d)

    d = make_lvis_dict()
    d['categories'] = []
    assert "empty 'categories'" in _err(tmp_path, d)

    d = make_lvis_dict()
    del d['categories'][0]['frequency']
    msg = _err(tmp_path, d)
    assert "category 3 ('bus')" in msg and "'frequency'" in msg
    assert 'stats_file=' in msg and 'make_toy_lvis' in msg
    # non-strict: group derived from the recount (bus: 2 images -> rare)
    s = ClassStats.from_lvis_json(d, strict=False)
    assert s.groups.tolist() == ['f', 'r', 'r']

    d = make_lvis_dict()
    del d['categories'][2]['image_count']
    msg = _err(tmp_path, d)
    assert "category 7 ('cat')" in msg and "'image_count'" in msg

    d = make_lvis_dict()
    d['categories'][1]['frequency'] = 'x'
    msg = _err(tmp_path, d)
    assert "frequency 'x'" in msg and "'r', 'c', 'f'" in msg

    d = make_lvis_dict()
    d['annotations'][3]['category_id'] = 99
    msg = _err(tmp_path, d)
    assert "'category_id'" in msg and '99' in msg and 'annotation 4' in msg

    d = make_lvis_dict()
    d['annotations'][0]['image_id'] = 42
    msg = _err(tmp_path, d)
    assert "'image_id'" in msg and '42' in msg

    d = make_lvis_dict()
    d['categories'][2]['id'] = 1
    assert 'duplicated category ids' in _err(tmp_path, d)

    d = make_lvis_dict()
    del d['annotations'][2]['category_id']
    msg = _err(tmp_path, d)
    assert 'annotation 3' in msg and "'category_id'" in msg


def test_cli(tmp_path, capsys):
    path = write_json(tmp_path / 'a.json', make_lvis_dict())
    spec = importlib.util.spec_from_file_location(
        'class_stats_cli', osp.join(ROOT, 'tools', 'misc', 'class_stats.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = str(tmp_path / 's.json')
    assert cli.main([path, '--out', out]) == 0
    text = capsys.readouterr().out
    assert 'classes: 3' in text and 'images: 6' in text
    assert ClassStats.load(out).image_count.tolist() == [3, 2, 2]
    bad = copy.deepcopy(make_lvis_dict())
    bad['categories'] = []
    assert cli.main([write_json(tmp_path / 'b.json', bad)]) == 2  # usage error
    assert 'categories' in capsys.readouterr().err


def test_annotated_images_round_trip_and_default(tmp_path):
    s = ClassStats.from_lvis_json(
        write_json(tmp_path / 'a.json', make_lvis_dict()))
    path = str(tmp_path / 'stats.json')
    s.save(path)
    back = ClassStats.load(path)
    assert back == s and back.num_annotated_images == 5
    # a stats file written before the field existed: every image counts
    d = s.to_dict()
    del d['num_annotated_images']
    old = ClassStats.from_dict(d)
    assert old.num_annotated_images is None
    np.testing.assert_allclose(old.image_frequency, [3 / 6, 2 / 6, 2 / 6])
    with pytest.raises(ValueError, match='num_annotated_images'):
        ClassStats(s.cat_ids, s.names, s.image_count, s.instance_count, 6,
                   s.groups, None, 7)
