"""tools/misc/smoke_configs.py and the real-format data it runs on
(mmlt.datasets.toy_lvis.make_real_format_data)."""
import collections
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import PY, run_tool

from mmlt.datasets.toy_lvis import COCO_CAT_IDS, make_real_format_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'smoke_configs', osp.join(ROOT, 'tools', 'misc', 'smoke_configs.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check_coco_json(path, img_dir, n_images):
    with open(path) as f:
        d = json.load(f)
    assert len(d['images']) == n_images
    by_id = {im['id']: im for im in d['images']}
    for im in d['images']:
        name = im['coco_url'].split('.org/')[1] if 'coco_url' in im else \
            osp.join(img_dir, im['file_name'])
        img = cv2.imread(osp.join(osp.dirname(osp.dirname(path)), name))
        assert img is not None, name
        assert img.shape[:2] == (im['height'], im['width'])
    for a in d['annotations']:
        x, y, w, h = a['bbox']
        im = by_id[a['image_id']]
        assert w > 0 and h > 0 and a['area'] > 0
        assert x >= 0 and y >= 0
        assert x + w <= im['width'] + 1e-6 and y + h <= im['height'] + 1e-6
    return d


@pytest.mark.parametrize('version,num,groups', [
    ('v1', 1203, dict(r=337, c=461, f=405)),
    ('v0.5', 1230, dict(r=454, c=461, f=315)),
])
def test_lvis_format_real_categories_and_groups(tmp_path, version, num,
                                                groups):
    from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
    from mmlt.datasets import LongTailLVISDataset
    root = str(tmp_path / f'lvis_{version}')
    files = make_real_format_data(root, f'lvis_{version}', train_images=5,
                                  val_images=2)
    train = _check_coco_json(files['train'], '', 5) if version == 'v1' else \
        json.load(open(files['train']))
    names = (LVISV1Dataset if version == 'v1' else
             LVISV05Dataset).METAINFO['classes']
    cats = sorted(train['categories'], key=lambda c: c['id'])
    assert [c['name'] for c in cats] == list(names)
    assert len(cats) == num
    assert dict(collections.Counter(c['frequency'] for c in cats)) == groups
    for c in cats:  # groups agree with the full-scale image counts
        n = c['image_count']
        assert c['frequency'] == ('r' if n <= 10 else 'c' if n <= 100 else
                                  'f')
    # every class has a training instance, as in the full set
    assert {a['category_id'] for a in train['annotations']} == set(
        range(1, num + 1))
    if version == 'v0.5':
        assert train['images'][0]['file_name'].startswith('COCO_train2014_')
    # the dataset of the real configs finds every image
    ds = LongTailLVISDataset(
        version=version, data_root=root,
        ann_file=f'annotations/lvis_{version}_train.json',
        data_prefix=dict(img='' if version == 'v1' else 'train2017/'),
        pipeline=[])
    assert len(ds) == 5
    for i in range(len(ds)):
        assert osp.isfile(ds.get_data_info(i)['img_path'])
    assert len(ds.metainfo['classes']) == num


def test_openimages_coco_and_voc_formats(tmp_path):
    from mmlt.datasets.multilabel import VOC_CLASSES, load_voc_image_labels
    oi = make_real_format_data(str(tmp_path / 'oi'), 'openimages',
                               train_images=4, val_images=2)
    d = _check_coco_json(oi['train'], 'train', 4)
    assert len(d['categories']) == 500
    assert {a['category_id'] for a in d['annotations']} == set(range(1, 501))
    assert max(max(im['width'], im['height']) for im in d['images']) == 1024

    coco = make_real_format_data(str(tmp_path / 'coco'), 'coco',
                                 train_images=6, val_images=2)
    d = _check_coco_json(coco['train'], 'train2017', 6)
    assert [c['id'] for c in d['categories']] == list(COCO_CAT_IDS)
    assert len(COCO_CAT_IDS) == 80 and COCO_CAT_IDS[-1] == 90

    voc = make_real_format_data(str(tmp_path / 'voc'), 'voc',
                                train_images=5, val_images=3)
    ids = open(voc['trainval']).read().split()
    assert len(ids) == 5
    labels = load_voc_image_labels(str(tmp_path / 'voc' / 'VOC2012'), ids)
    assert set(np.concatenate(labels).tolist()) == set(
        range(len(VOC_CLASSES)))
    img = cv2.imread(str(tmp_path / 'voc' / 'VOC2012' / 'JPEGImages' /
                         f'{ids[0]}.jpg'))
    assert img.shape[1] in (500, 375, 333)


def test_generator_is_deterministic(tmp_path):
    a = make_real_format_data(str(tmp_path / 'a'), 'lvis_v1', train_images=3,
                              val_images=1)
    b = make_real_format_data(str(tmp_path / 'b'), 'lvis_v1', train_images=3,
                              val_images=1)
    ja, jb = json.load(open(a['train'])), json.load(open(b['train']))
    assert ja['annotations'] == jb['annotations']
    assert open(osp.join(str(tmp_path / 'a'), 'train2017',
                         '000000000001.jpg'), 'rb').read() == open(
        osp.join(str(tmp_path / 'b'), 'train2017', '000000000001.jpg'),
        'rb').read()
    with pytest.raises(ValueError, match='fmt must be one of'):
        make_real_format_data(str(tmp_path / 'c'), 'lvis_v2')


def test_every_real_config_is_planned_with_its_stage1_and_data():
    tool = load_tool()
    configs = tool.real_configs()
    assert len(configs) > 80
    assert not any(c.startswith(('configs/toy/', 'configs/_base_/',
                                 'configs/benchmark/')) for c in configs)
    order, info = tool.plan(configs)
    assert sorted(order) == sorted(configs)
    for c in order:  # stage 1 before stage 2
        s1 = info[c]['stage1']
        if s1:
            assert order.index(s1) < order.index(c)
        assert info[c]['formats'], c
    bags = 'configs/bags/mask-rcnn_r50_fpn_bags_1x_lvis-v1.py'
    assert info[bags]['stage1'] == 'configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py'
    assert info[bags]['ckpt'] == \
        'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
    tau = 'configs/decoupled/mask-rcnn_r50_fpn_tau-norm-select_2x_lvis-v0.5.py'
    assert info[tau]['stage1'] == \
        'configs/lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py'
    assert info[tau]['cfg']['posthoc']['command'][0] == 'tools/misc/tau_norm.py'
    assert info['configs/db/resnet50_pfc_db-focal_voc-mlt.py'][
        'formats'] == {'voc'}
    assert info['configs/openimages/atss_r50_fpn_efl_180k_openimages-'
                'challenge.py']['formats'] == {'openimages'}
    # a single stage-2 config brings its stage 1 along
    order, _ = tool.plan([bags])
    assert order == ['configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py', bags]


def test_stage1_path_must_be_an_mmlt_config():
    tool = load_tool()
    with pytest.raises(ValueError, match='work_dirs/<an mmlt'):
        tool.stage1_of({'load_from': 'checkpoints/coco.pth'}, {'a'})
    assert tool.stage1_of({'load_from': None}, {'a'}) == (None, None)
    assert tool.stage1_of({'load_from': 'work_dirs/a/epoch_1.pth'},
                          {'a'}) == ('a', 'work_dirs/a/epoch_1.pth')


def test_interleave_families():
    tool = load_tool()
    got = tool.interleave_families(
        ['configs/a/1.py', 'configs/a/2.py', 'configs/b/1.py'])
    assert got == ['configs/a/1.py', 'configs/b/1.py', 'configs/a/2.py']


def test_table_between_markers(tmp_path):
    tool = load_tool()
    doc = tmp_path / 'configs.md'
    doc.write_text(f'# Title\nintro\n{tool.BEGIN}\nold\n{tool.END}\nafter\n')
    ok = 'configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v1.py'
    bad = 'configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v0.5.py'
    results = {
        ok: dict(status='passed', s_per_iter=12.34, test_s_per_img=3.0,
                 peak_rss_mb=2048, commit='abc', machine='m', date='2026-01-02'),
        bad: dict(status='failed', error='KeyError: a|b', peak_rss_mb=1024,
                  commit='abc', machine='m', date='2026-01-03'),
    }
    gpu = {bad: dict(status='passed', s_per_iter=0.25, peak_gpu_mb=3072,
                     peak_rss_mb=9000, commit='def', machine='h200',
                     date='2026-01-04')}
    tool.write_doc(results, [ok, bad, 'configs/x.py'], doc=str(doc),
                   gpu_results=gpu)
    text = doc.read_text()
    assert text.startswith('# Title\nintro\n') and text.endswith('after\n')
    assert 'old' not in text
    assert '2 of 3 real configs passed (1 on the CPU, 1 on the GPU)' in text
    assert 'CPU runs: 2026-01-02 to 2026-01-03, commits abc; m.' in text
    assert f'| `{ok}` | 16 | 12.3 | 3.0 | 2.0 | passed |  |  | not run |' \
        in text
    assert f'| `{bad}` | 16 |  |  | 1.0 | FAILED: KeyError: a\\|b | 0.2 | ' \
        '3.0 | passed |' in text
    assert '| `configs/x.py` | ? |  |  |  | not run |  |  | not run |' in text
    doc.write_text('no markers')
    with pytest.raises(SystemExit, match='markers'):
        tool.write_doc(results, [ok], doc=str(doc))


def _smoke(tmp_path, configs, timeout):
    """The tool as a user runs it; results in tmp_path, not docs/."""
    res = tmp_path / 'results.json'
    run_tool([PY, 'tools/misc/smoke_configs.py', *configs, '--work-root',
              str(tmp_path / 'smoke'), '--results', str(res)],
             timeout=timeout)
    return json.loads(res.read_text())


def _check_passed(results, configs):
    for c in configs:
        r = results[c]
        assert r['status'] == 'passed', (c, r.get('error'))
        assert r['iters'] == 2 and r['s_per_iter'] > 0
        assert np.isfinite(r['last_loss'])
        assert r['test_images'] >= 1 and r['metrics']
        assert r['peak_rss_mb'] > 100


def test_smoke_cheap_config_end_to_end(tmp_path):
    """CI: the cheapest real config (DB-focal on VOC-MLT: 224 px, 20
    classes) through the tool, its VOC data and COCO-MLT-style subset."""
    config = 'configs/db/resnet50_pfc_db-focal_voc-mlt.py'
    results = _smoke(tmp_path, [config], timeout=1200)
    _check_passed(results, [config])
    assert 'multilabel/mAP' in results[config]['metrics']
    assert (tmp_path / 'smoke' / 'data' / 'VOCdevkit' / 'longtail2012' /
            'class_freq.json').is_file()


@pytest.mark.slow
def test_smoke_stage2_from_its_stage1(tmp_path):
    """BAGS stage 2 loads the Faster R-CNN stage-1 smoke checkpoint
    through its own load_from path."""
    config = 'configs/bags/faster-rcnn_r50_fpn_bags_1x_lvis-v1.py'
    stage1 = 'configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v1.py'
    results = _smoke(tmp_path, [config], timeout=2400)
    _check_passed(results, [config, stage1])
    assert any(k.startswith('lvis/bbox_AP') for k in results[stage1][
        'metrics'])
    link = tmp_path / 'smoke' / 'work_dirs' / 'faster-rcnn_r50_fpn_1x_lvis-v1'
    assert (link / 'epoch_12.pth').resolve() == (link / 'smoke.pth').resolve()
    log = (tmp_path / 'smoke' / results[config]['log']).read_text()
    assert 'Load checkpoint from work_dirs/faster-rcnn_r50_fpn_1x_lvis-v1/' \
        'epoch_12.pth' in log


# One config of every other family (slow: minutes each on 2 cores).
FAMILY_CONFIGS = [
    'configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    'configs/eql/mask-rcnn_r50_fpn_eql_2x_lvis-v0.5.py',
    'configs/eqlv2/mask-rcnn_r50_fpn_eqlv2_1x_lvis-v1.py',
    'configs/seesaw/mask-rcnn_r50_fpn_seesaw_1x_lvis-v1.py',
    'configs/decoupled/mask-rcnn_r50_fpn_tau-norm_1x_lvis-v1.py',
    'configs/loce/loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py',
    'configs/efl/retinanet_r50_fpn_efl_rfs-1e-3_2x_lvis-v1.py',
    'configs/openimages/faster-rcnn_r50_fpn_eqlv2_180k_openimages-'
    'challenge.py',
]


@pytest.mark.slow
def test_smoke_one_config_per_family(tmp_path):
    results = _smoke(tmp_path, FAMILY_CONFIGS, timeout=5400)
    for c in FAMILY_CONFIGS:
        assert results[c]['status'] == 'passed', (c, results[c].get('error'))
