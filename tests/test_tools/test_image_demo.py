"""tools/image_demo.py on CPU: one drawn image and one json per input, class
names from the checkpoint, and the scores the head's test path defines,
recomputed here by hand from the classifier logits: EQLv2's sigmoid
(times 1 - objectness), softmax for cross-entropy, per-anchor sigmoid for
a focal-loss RetinaNet."""
import json
import os
import os.path as osp
import shutil
import sys

import mmcv
import numpy as np
import pytest
import torch

from conftest import PY, ROOT, TOY_CONFIG, run_tool, toy_cfg_options

sys.path.insert(0, osp.join(ROOT, 'tools'))
import image_demo  # noqa: E402

EQLV2_CONFIG = osp.join(ROOT, 'configs/toy/mask-rcnn_r18_fpn_toy_eqlv2.py')
RETINA_CONFIG = osp.join(ROOT, 'configs/toy/retinanet_r18_fpn_toy_focal.py')
C = 60


@pytest.fixture(scope='module')
def demo_data(toy_lvis_root, tmp_path_factory):
    """Two toy val images (and a non-image file) and the toy class names."""
    tmp = tmp_path_factory.mktemp('image_demo')
    imgs = tmp / 'imgs'
    imgs.mkdir()
    gt = json.load(open(osp.join(toy_lvis_root, 'annotations',
                                 'lvis_v1_val.json')))
    for im in gt['images'][:2]:
        shutil.copy(osp.join(toy_lvis_root, im['file_name']), imgs)
    (imgs / 'notes.txt').write_text('not an image')
    classes = [c['name'] for c in sorted(gt['categories'],
                                         key=lambda c: c['id'])]
    return dict(root=toy_lvis_root, tmp=tmp, imgs=str(imgs),
                classes=classes)


@pytest.fixture(scope='module')
def eqlv2_ckpt(demo_data):
    """EQLv2 toy Mask R-CNN trained for one iteration (2 images)."""
    work = str(demo_data['tmp'] / 'eqlv2')
    run_tool([PY, 'tools/train.py', EQLV2_CONFIG, '--work-dir', work] +
             toy_cfg_options(demo_data['root'], n_train=2, n_val=1))
    return osp.join(work, 'epoch_1.pth')


def _untrained_ckpt(config, path, classes, cfg_options=None):
    """Checkpoint of a freshly initialised model (seeded) with class names
    in its meta, as the runner writes them."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdet.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = dict(dataset_meta=dict(classes=list(classes))) if classes else {}
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return path


def _capture(head):
    """Record the outputs of ``head``'s forward."""
    seen = []
    head.register_forward_hook(lambda m, i, o: seen.append(o))
    return seen


def _rel_err(d, table):
    """Relative distance of a detection's score to the nearest
    ``table[i, label]``: float32 rounding is ~1e-7, while the tables hold
    ~10^4 values of similar size, so a 1e-6 match is no coincidence for
    every one of ~100 detections."""
    col = table[:, d['label']]
    return float(np.abs(col - d['score']).min()) / max(d['score'], 1e-30)


def _assert_scores_in(dets, table, name):
    """Every detection's score is table[i, label] for some row i."""
    assert len(dets) >= 20, 'too few detections to check'
    for d in dets:
        err = _rel_err(d, table)
        assert err < 1e-6, (name, d, err)


def _not_scores_in(dets, table):
    """How many detections do NOT match table[:, label] anywhere."""
    return sum(_rel_err(d, table) > 1e-6 for d in dets)


def test_cli_writes_one_image_per_input(demo_data, eqlv2_ckpt):
    out = str(demo_data['tmp'] / 'out_cli')
    proc = run_tool([PY, 'tools/image_demo.py', demo_data['imgs'],
                     EQLV2_CONFIG, eqlv2_ckpt, '--out-dir', out,
                     '--score-thr', '0'])
    assert 'scores: EqualizationLossV2.get_activation' in proc.stdout
    inputs = sorted(f for f in os.listdir(demo_data['imgs'])
                    if f.endswith('.jpg'))
    assert len(inputs) == 2
    assert sorted(os.listdir(out)) == sorted(
        inputs + [f + '.json' for f in inputs])
    for f in inputs:
        src = mmcv.imread(osp.join(demo_data['imgs'], f))
        drawn = mmcv.imread(osp.join(out, f))
        assert drawn.shape == src.shape
        assert not np.array_equal(drawn, src)  # something was drawn
        rec = json.load(open(osp.join(out, f + '.json')))
        assert rec['activation'] == 'EqualizationLossV2.get_activation'
        assert rec['detections']
        for d in rec['detections']:
            assert d['class_name'] == demo_data['classes'][d['label']]
        scores = [d['score'] for d in rec['detections']]
        assert scores == sorted(scores, reverse=True)

    # a higher threshold keeps only what scores above it
    out2 = str(demo_data['tmp'] / 'out_thr')
    thr = scores[len(scores) // 2]
    res = image_demo.run_demo(osp.join(demo_data['imgs'], inputs[-1]),
                              EQLV2_CONFIG, eqlv2_ckpt, out2, thr)
    (dets, ) = res.values()
    assert dets and min(d['score'] for d in dets) >= thr
    assert len(dets) < len(scores)


def test_eqlv2_scores_are_its_sigmoid(demo_data, eqlv2_ckpt):
    model = image_demo.init_model(EQLV2_CONFIG, eqlv2_ckpt)
    seen = _capture(model.roi_head.bbox_head)
    img = sorted(os.listdir(demo_data['imgs']))[0]
    res = image_demo.run_demo(osp.join(demo_data['imgs'], img), None, None,
                              str(demo_data['tmp'] / 'out_eqlv2'), 0.0,
                              model=model)
    (dets, ) = res.values()
    cls_score = seen[-1][0].double()  # [rois, C + 1], objectness last
    assert cls_score.shape[1] == C + 1
    # by hand: EQLv2 (test_with_obj) = sigmoid(z_j) * (1 - sigmoid(z_obj))
    sig = torch.sigmoid(cls_score)
    expected = (sig[:, :C] * (1 - sig[:, C:])).numpy()
    _assert_scores_in(dets, expected, 'eqlv2 sigmoid')
    # and not a softmax over the C + 1 logits
    soft = torch.softmax(cls_score, 1).numpy()
    assert _not_scores_in(dets, soft) == len(dets)
    # nor the plain sigmoid without the objectness factor
    assert _not_scores_in(dets, sig[:, :C].numpy()) > len(dets) // 2


def test_ce_scores_are_softmax(demo_data):
    ckpt = _untrained_ckpt(TOY_CONFIG, str(demo_data['tmp'] / 'ce.pth'),
                           demo_data['classes'])
    model = image_demo.init_model(TOY_CONFIG, ckpt)
    assert image_demo.score_activation(model) == 'softmax over C + 1 logits'
    seen = _capture(model.roi_head.bbox_head)
    res = image_demo.run_demo(demo_data['imgs'], None, None,
                              str(demo_data['tmp'] / 'out_ce'), 0.0,
                              model=model)
    dets = list(res.values())[-1]
    cls_score = seen[-1][0].double()
    soft = torch.softmax(cls_score, 1).numpy()
    _assert_scores_in(dets, soft, 'ce softmax')
    assert _not_scores_in(dets, torch.sigmoid(cls_score).numpy()) == \
        len(dets)


def test_retinanet_focal_scores_are_sigmoid(demo_data):
    ckpt = _untrained_ckpt(RETINA_CONFIG,
                           str(demo_data['tmp'] / 'retina.pth'),
                           demo_data['classes'])
    model = image_demo.init_model(RETINA_CONFIG, ckpt)
    assert image_demo.score_activation(model) == 'sigmoid'
    seen = _capture(model.bbox_head)
    img = sorted(os.listdir(demo_data['imgs']))[0]
    res = image_demo.run_demo(osp.join(demo_data['imgs'], img), None, None,
                              str(demo_data['tmp'] / 'out_retina'), 0.0,
                              model=model)
    (dets, ) = res.values()
    cls_scores = seen[-1][0]  # per level [1, A * C, H, W]
    logits = torch.cat([s[0].permute(1, 2, 0).reshape(-1, C)
                        for s in cls_scores]).double()
    _assert_scores_in(dets, torch.sigmoid(logits).numpy(), 'focal sigmoid')


def test_class_names_and_errors(demo_data, tmp_path):
    # no class names in the checkpoint: the config's test dataset's
    ckpt = _untrained_ckpt(RETINA_CONFIG, str(tmp_path / 'nometa.pth'),
                           None)
    root = demo_data['root'].rstrip('/') + '/'
    model = image_demo.init_model(
        RETINA_CONFIG, ckpt,
        cfg_options={'test_dataloader.dataset.data_root': root})
    assert list(model.dataset_meta['classes']) == demo_data['classes']
    with pytest.raises(RuntimeError, match='no class names.*--cfg-options'):
        image_demo.init_model(RETINA_CONFIG, ckpt, cfg_options={
            'test_dataloader.dataset.data_root': str(tmp_path / 'none/')})

    # class names of another class list
    bad = _untrained_ckpt(RETINA_CONFIG, str(tmp_path / 'three.pth'),
                          ['a', 'b', 'c'])
    with pytest.raises(ValueError, match=r'three\.pth: 3 class names but the '
                       'model of .* has num_classes=60'):
        image_demo.init_model(RETINA_CONFIG, bad)

    db = osp.join(ROOT, 'configs/toy/db/bce.py')
    with pytest.raises(ValueError, match=r'bce\.py: the model '
                       r'\(MultiLabelClassifier\) is not a detector'):
        image_demo.init_model(db, ckpt)

    with pytest.raises(FileNotFoundError, match='no image'):
        image_demo.list_images(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='neither an image file'):
        image_demo.list_images(str(tmp_path / 'missing.jpg'))
