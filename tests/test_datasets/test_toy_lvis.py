"""Tests of the synthetic LVIS generators (mmlt.datasets.toy_lvis).

Every statistic is recounted from the written files, independently of the
generator's own bookkeeping.
"""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
import pytest

from mmlt.datasets.toy_lvis import (make_lvis_scale_annotations,
                                    make_toy_lvis, toy_lvis_classes)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODULE_FILE = osp.join(REPO, 'mmlt', 'datasets', 'toy_lvis.py')
CLI = osp.join(REPO, 'tools', 'make_toy_lvis.py')

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def lvis_group(n_images):
    # LVIS v1 definition, written out here on purpose (not imported).
    return 'r' if n_images <= 10 else ('c' if n_images <= 100 else 'f')


def load(path):
    with open(path) as f:
        return json.load(f)


def file_hashes(root, split):
    d = osp.join(root, f'{split}2017')
    out = {}
    for name in sorted(os.listdir(d)):
        with open(osp.join(d, name), 'rb') as f:
            out[name] = hashlib.sha1(f.read()).hexdigest()
    return out


def recount(data):
    """Per category: set of image ids and number of instances."""
    imgs, inst = defaultdict(set), defaultdict(int)
    for a in data['annotations']:
        imgs[a['category_id']].add(a['image_id'])
        inst[a['category_id']] += 1
    return imgs, inst


def polygon_area(flat):
    x = np.asarray(flat[0::2], np.float64)
    y = np.asarray(flat[1::2], np.float64)
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def check_geometry(data):
    """Valid polygons inside the image, tight boxes, polygon areas."""
    imgs = {i['id']: (i['width'], i['height']) for i in data['images']}
    cat_ids = {c['id'] for c in data['categories']}
    anns = data['annotations']
    assert len({a['id'] for a in anns}) == len(anns)
    ext, box, area, poly_area = [], [], [], []
    for a in anns:
        assert a['category_id'] in cat_ids
        assert len(a['segmentation']) == 1
        poly = a['segmentation'][0]
        assert len(poly) % 2 == 0 and len(poly) >= 6
        xs, ys = poly[0::2], poly[1::2]
        w, h = imgs[a['image_id']]
        ext.append((min(xs), min(ys), max(xs), max(ys), w, h))
        box.append(a['bbox'])
        area.append(a['area'])
        poly_area.append(polygon_area(poly))
    ext, box = np.array(ext), np.array(box)
    assert (ext[:, :2] >= 0).all()
    assert (ext[:, 2] <= ext[:, 4]).all() and (ext[:, 3] <= ext[:, 5]).all()
    corners = np.concatenate([box[:, :2], box[:, :2] + box[:, 2:]], 1)
    assert np.abs(corners - ext[:, :4]).max() <= 0.011
    assert (box[:, 2:] >= 1).all()
    area = np.array(area)
    assert (area > 0).all()
    assert np.abs(area - np.array(poly_area)).max() <= 0.011


# ---------------------------------------------------------------------------
# mode 1: toy image dataset
# ---------------------------------------------------------------------------


@pytest.fixture(scope='module')
def toy_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp('toy_lvis')
    t0 = time.perf_counter()
    main = make_toy_lvis(str(base / 'a'), seed=0, progress=False)
    main['wall'] = time.perf_counter() - t0
    same = make_toy_lvis(str(base / 'b'), seed=0, progress=False)
    # Layouts do not depend on img_size, so a cheap 64 px run of another
    # seed is enough to see that the seed matters.
    other = make_toy_lvis(str(base / 'c'), seed=1, img_size=64,
                          progress=False)
    return main, same, other


@pytest.fixture(scope='module')
def toy(toy_dirs):
    info = toy_dirs[0]
    return info, load(info['train_ann']), load(info['val_ann'])


def test_classes_spec():
    specs = toy_lvis_classes(1)
    names = [s['name'] for s in specs]
    assert len(names) == 60 and names == sorted(names)
    assert len(set(names)) == 60
    # Scale 1: every (shape, colour) pair at most once -> distinct classes.
    pairs = {(s['shape'], s['colour']) for s in specs}
    assert len(pairs) == 60
    assert {s['texture'] for s in specs} == {'solid', 'striped'}
    assert len({s['name'] for s in toy_lvis_classes(3)}) == 180
    assert toy_lvis_classes(1) == specs  # independent of any seed
    with pytest.raises(ValueError):
        toy_lvis_classes(0)


def test_library_import_is_light():
    code = ('import importlib.util, sys\n'
            'spec = importlib.util.spec_from_file_location(\n'
            f'    "t", {MODULE_FILE!r})\n'
            'm = importlib.util.module_from_spec(spec)\n'
            'spec.loader.exec_module(m)\n'
            'bad = [k for k in ("torch", "mmdet", "mmengine", "cv2") '
            'if k in sys.modules]\n'
            'assert not bad, bad\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_result_paths(toy):
    info, train, val = toy
    assert osp.isabs(info['root'])
    for key in ('train_ann', 'val_ann', 'meta'):
        assert osp.isabs(info[key]) and osp.isfile(info[key])
    assert info['train_ann'] == osp.join(info['root'], 'annotations',
                                         'lvis_v1_train.json')
    assert info['val_ann'] == osp.join(info['root'], 'annotations',
                                       'lvis_v1_val.json')
    assert info['generated'] and info['wall'] < 60
    assert info['train_images'] == len(train['images'])
    assert info['val_images'] == len(val['images'])
    assert info['train_instances'] == len(train['annotations'])
    meta = load(info['meta'])
    assert meta['params'] == dict(seed=0, scale=1, img_size=160)
    assert meta['classes'] == [c['name'] for c in train['categories']]


def test_determinism(toy_dirs):
    a, b, c = toy_dirs
    for key in ('train_ann', 'val_ann'):
        with open(a[key], 'rb') as f1, open(b[key], 'rb') as f2:
            assert f1.read() == f2.read()
    for split in ('train', 'val'):
        ha, hb = file_hashes(a['root'], split), file_hashes(b['root'], split)
        assert ha == hb and len(ha) > 0
    with open(a['meta'], 'rb') as f1, open(b['meta'], 'rb') as f2:
        assert f1.read() == f2.read()


def test_other_seed_differs(toy_dirs):
    a, _, c = toy_dirs

    def pairs(path):
        return sorted({(x['image_id'], x['category_id'])
                       for x in load(path)['annotations']})

    for key in ('train_ann', 'val_ann'):
        pa, pc = pairs(a[key]), pairs(c[key])
        assert pa != pc
        assert len(set(pa) & set(pc)) < 0.5 * len(pa)
    ca = [x['image_count'] for x in load(a['train_ann'])['categories']]
    cc = [x['image_count'] for x in load(c['train_ann'])['categories']]
    assert ca != cc and sorted(ca) == sorted(cc)  # same profile, reshuffled


def test_top_level_format(toy):
    _, train, val = toy
    for data in (train, val):
        assert set(data) == {
            'info', 'licenses', 'categories', 'images', 'annotations'
        }
        assert [c['id'] for c in data['categories']] == list(
            range(1, len(data['categories']) + 1))
        for c in data['categories']:
            assert c['synset'] == c['name'] + '.n.01'
            assert c['name'] in c['synonyms'] and c['def']
    # LVIS stores the train statistics in both files.
    assert train['categories'] == val['categories']


def test_frequency_groups_by_definition(toy):
    info, train, _ = toy
    imgs, inst = recount(train)
    cats = train['categories']
    assert len(cats) >= 50
    groups = defaultdict(int)
    for c in cats:
        n = len(imgs[c['id']])
        assert n >= 1
        assert c['image_count'] == n
        assert c['instance_count'] == inst[c['id']]
        assert c['frequency'] == lvis_group(n)
        groups[c['frequency']] += 1
    assert set(groups) == {'r', 'c', 'f'}
    assert groups == info['groups']
    assert groups['r'] >= 15 and groups['c'] >= 12 and groups['f'] >= 8
    counts = sorted(len(v) for v in imgs.values())
    assert counts[0] == 1  # at least one class with a single image
    assert counts[-1] > 150  # a real head
    assert 600 <= len(train['images']) <= 850


def test_val_is_roughly_balanced(toy):
    _, _, val = toy
    imgs, inst = recount(val)
    assert 150 <= len(val['images']) <= 250
    for c in val['categories']:
        assert inst[c['id']] >= 10, c['name']
        assert len(imgs[c['id']]) >= 5, c['name']


def test_geometry(toy):
    _, train, val = toy
    for data in (train, val):
        check_geometry(data)
        # Non-overlapping placement: boxes of one image are disjoint, so
        # each polygon is the true visible mask.
        by_img = defaultdict(list)
        for a in data['annotations']:
            by_img[a['image_id']].append(a['bbox'])
        for boxes in by_img.values():
            b = np.array(boxes)
            x2, y2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
            ix = np.minimum(x2[:, None], x2) - np.maximum(b[:, 0, None], b[:,
                                                                           0])
            iy = np.minimum(y2[:, None], y2) - np.maximum(b[:, 1, None], b[:,
                                                                           1])
            inter = (ix > 0) & (iy > 0)
            np.fill_diagonal(inter, False)
            assert not inter.any()
    areas = np.array([a['area'] for a in train['annotations']])
    assert (areas < 32**2).sum() > 0.2 * areas.size
    assert ((areas >= 32**2) & (areas < 96**2)).sum() > 0.2 * areas.size
    assert (areas >= 96**2).sum() >= 3


def test_image_records_and_files(toy):
    info, train, val = toy
    import cv2
    for split, data in (('train', train), ('val', val)):
        pos = defaultdict(set)
        for a in data['annotations']:
            pos[a['image_id']].add(a['category_id'])
        all_ids = {c['id'] for c in data['categories']}
        ids = [i['id'] for i in data['images']]
        assert len(set(ids)) == len(ids)
        for k, img in enumerate(data['images']):
            name = f"{split}2017/{img['id']:012d}.jpg"
            assert img['coco_url'] == 'http://images.cocodataset.org/' + name
            assert img['file_name'] == name
            assert img['license'] == 1 and img['flickr_url']
            assert img['date_captured']
            assert (img['width'], img['height']) == (160, 160)
            path = osp.join(info['root'], name)
            assert osp.isfile(path)
            if k % 50 == 0:
                arr = cv2.imread(path)
                assert arr.shape == (160, 160, 3)
            p = pos[img['id']]
            neg = set(img['neg_category_ids'])
            assert len(neg) == len(img['neg_category_ids'])
            assert not neg & p and neg <= all_ids
            assert len(neg) == (len(all_ids) - len(p)) // 2
            assert set(img['not_exhaustive_category_ids']) <= p
        n_files = len(os.listdir(osp.join(info['root'], f'{split}2017')))
        assert n_files == len(data['images'])
    # A handful of train images without annotations (verified negatives
    # only), which downstream code must handle.
    with_anns = {a['image_id'] for a in train['annotations']}
    empty = [i for i in train['images'] if i['id'] not in with_anns]
    assert 0.005 * len(train['images']) <= len(empty) <= 0.03 * len(
        train['images'])
    assert info['empty_train_images'] == len(empty)
    n_ne = sum(len(i['not_exhaustive_category_ids']) for i in train['images'])
    n_pos = len({(a['image_id'], a['category_id'])
                 for a in train['annotations']})
    assert 0.02 < n_ne / n_pos < 0.09


def test_lvis_api_loads(toy):
    from lvis import LVIS
    info, train, _ = toy
    for key in ('train_ann', 'val_ann'):
        api = LVIS(info[key])
        assert len(api.get_cat_ids()) == len(train['categories'])
        assert len(api.get_img_ids()) > 0


def test_mmdet_lvis_v1_dataset(toy):
    from mmdet.datasets import LVISV1Dataset
    info, train, val = toy
    names = tuple(c['name'] for c in train['categories'])
    for key, data in (('train_ann', train), ('val_ann', val)):
        ds = LVISV1Dataset(
            data_root=info['root'],
            ann_file=osp.relpath(info[key], info['root']),
            data_prefix=dict(img=''),
            metainfo=dict(classes=names),
            pipeline=[])
        assert len(ds) == len(data['images'])
        n_inst = 0
        for i in range(len(ds)):
            d = ds.get_data_info(i)
            assert osp.isfile(d['img_path'])
            n_inst += len(d['instances'])
            for inst in d['instances']:
                assert 0 <= inst['bbox_label'] < len(names)
        assert n_inst == len(data['annotations'])


def test_idempotent_second_call(toy):
    info, _, _ = toy
    root = info['root']
    watched = [info['train_ann'], info['val_ann'], info['meta']]
    watched += [
        osp.join(root, 'train2017', n)
        for n in sorted(os.listdir(osp.join(root, 'train2017')))[:20]
    ]
    before = [os.stat(p).st_mtime_ns for p in watched]
    t0 = time.perf_counter()
    again = make_toy_lvis(root, seed=0, progress=False)
    assert time.perf_counter() - t0 < 1.0
    assert not again['generated']
    assert [os.stat(p).st_mtime_ns for p in watched] == before
    for key in ('train_ann', 'val_ann', 'train_images', 'val_images',
                'groups', 'classes'):
        assert again[key] == info[key]


def test_cli_small(tmp_path):
    out = tmp_path / 'cli_toy'
    proc = subprocess.run([
        sys.executable, CLI, '--out',
        str(out), '--img-size', '64', '--seed', '3', '--no-progress'
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'rare' in proc.stdout and 'frequent' in proc.stdout
    data = load(out / 'annotations' / 'lvis_v1_train.json')
    assert data['images'][0]['width'] == 64
    assert load(out / 'meta.json')['params'] == dict(
        seed=3, scale=1, img_size=64)
    assert os.access(CLI, os.X_OK)
    with open(CLI) as f:
        assert f.readline().strip() == '#!/usr/bin/env python'

    # The LVIS-scale mode, in-process to spare a second interpreter start.
    spec = importlib.util.spec_from_file_location('make_toy_lvis_cli', CLI)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    js = tmp_path / 'lvis_scale.json'
    cli.main([
        '--lvis-scale', '--split', 'val', '--num-images', '300', '--out',
        str(js), '--no-progress'
    ])
    assert len(load(js)['images']) == 300


# ---------------------------------------------------------------------------
# mode 2: annotation-only json at LVIS scale
# ---------------------------------------------------------------------------

N_SMALL = 2000


@pytest.fixture(scope='module')
def lvis_scale(tmp_path_factory):
    base = tmp_path_factory.mktemp('lvis_scale')
    tr = make_lvis_scale_annotations(
        str(base / 'train.json'), 'train', num_images=N_SMALL, progress=False)
    va = make_lvis_scale_annotations(
        str(base / 'val.json'),
        'val',
        num_images=400,
        train_images=N_SMALL,
        progress=False)
    return base, load(tr), load(va)


def test_lvis_scale_fields_and_groups(lvis_scale):
    _, train, val = lvis_scale
    assert len(train['images']) == N_SMALL and len(val['images']) == 400
    cats = train['categories']
    assert val['categories'] == cats
    imgs, inst = recount(train)
    shares = defaultdict(int)
    for c in cats:
        assert set(c) >= {
            'id', 'name', 'synset', 'synonyms', 'def', 'frequency',
            'image_count', 'instance_count'
        }
        n = len(imgs[c['id']])
        assert c['image_count'] == n and n >= 1
        assert c['instance_count'] == inst[c['id']]
        assert c['frequency'] == lvis_group(n)
        shares[c['frequency']] += 1
    C = len(cats)
    # Proportionally scaled class count, LVIS v1 group shares.
    assert C == round(1203 * N_SMALL / 100170)
    for g, n in (('r', 337), ('c', 461), ('f', 405)):
        assert abs(shares[g] / C - n / 1203) < 0.06
    # Boxes per image like LVIS v1 (~12.7).
    assert 9 < len(train['annotations']) / N_SMALL < 16
    # Every class has val ground truth.
    val_imgs, _ = recount(val)
    assert all(len(val_imgs[c['id']]) >= 1 for c in cats)


def test_lvis_scale_geometry_and_images(lvis_scale):
    _, train, val = lvis_scale
    for data in (train, val):
        check_geometry(data)
        n_pts = {len(a['segmentation'][0]) // 2 for a in data['annotations']}
        assert min(n_pts) >= 4 and max(n_pts) <= 8
        sizes = {(i['width'], i['height']) for i in data['images']}
        assert (640, 480) in sizes and (480, 640) in sizes
        assert all(max(s) <= 640 for s in sizes)
        pos = defaultdict(set)
        for a in data['annotations']:
            pos[a['image_id']].add(a['category_id'])
        n_neg = 0
        for img in data['images']:
            assert not set(img['neg_category_ids']) & pos[img['id']]
            assert set(img['not_exhaustive_category_ids']) <= pos[img['id']]
            assert img['coco_url'].startswith('http://images.cocodataset.org/')
            n_neg += len(img['neg_category_ids'])
        assert n_neg > 0


def test_lvis_scale_lvis_api_and_determinism(lvis_scale, tmp_path):
    from lvis import LVIS
    base, train, _ = lvis_scale
    api = LVIS(str(base / 'train.json'))
    assert len(api.get_img_ids()) == N_SMALL
    again = make_lvis_scale_annotations(
        str(tmp_path / 'again.json'), 'train', num_images=N_SMALL,
        progress=False)
    with open(again, 'rb') as f1, open(base / 'train.json', 'rb') as f2:
        assert f1.read() == f2.read()
    other = make_lvis_scale_annotations(
        str(tmp_path / 'other.json'),
        'train',
        seed=1,
        num_images=N_SMALL,
        progress=False)
    assert load(other)['annotations'] != train['annotations']
