"""tools/misc/ncm.py on a tiny hand-made dataset and a randomly initialised
toy model: per-class GT box counts, the mean of a single-box class equals the
feature of that box taken at the resized coordinates (64 px image -> 160 px,
boxes x 2.5), background RoIs are collected, the rest of the checkpoint is
unchanged, and the result runs through NCMBBoxHead."""
import importlib.util
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmlt  # noqa: F401
from mmdet.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs/toy/decoupled/ncm_conv.py')
C = 3
# image id -> [(category id, [x, y, w, h])]; cat 3 has a single box
BOXES = {
    1: [(1, [4, 4, 20, 16]), (2, [30, 30, 24, 20])],
    2: [(1, [10, 8, 30, 30]), (1, [40, 2, 18, 22])],
    3: [(3, [12, 20, 28, 24]), (2, [2, 40, 20, 20])],
}


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'ncm_tool', osp.join(ROOT, 'tools/misc/ncm.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_dataset(root):
    rng = np.random.default_rng(0)
    cats = [dict(id=i, name=f'c{i}', frequency='r', image_count=n)
            for i, n in ((1, 2), (2, 2), (3, 1))]
    images, anns = [], []
    for img_id, boxes in BOXES.items():
        path = osp.join(root, 'train2017', f'{img_id:012d}.jpg')
        mmcv.imwrite(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
                     path)
        images.append(dict(id=img_id, width=64, height=64,
                           coco_url='http://images.cocodataset.org/train2017/'
                           f'{img_id:012d}.jpg'))
        for cat, (x, y, w, h) in boxes:
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=cat, bbox=[x, y, w, h], area=w * h,
                             segmentation=[[x, y, x + w, y, x + w, y + h, x,
                                            y + h]]))
    for split in ('train', 'val'):
        p = osp.join(root, 'annotations', f'lvis_v1_{split}.json')
        os.makedirs(osp.dirname(p), exist_ok=True)
        with open(p, 'w') as f:
            json.dump(dict(categories=cats, images=images, annotations=anns),
                      f)


def cfg_options(root):
    return [
        f'train_dataloader.dataset.data_root={root}/',
        f'test_dataloader.dataset.data_root={root}/',
        f'model.roi_head.bbox_head.num_classes={C}',
        f'model.roi_head.mask_head.num_classes={C}',
    ]


@pytest.fixture
def stage1(tmp_path):
    write_dataset(str(tmp_path))
    cfg = Config.fromfile(CFG)
    cfg.model.roi_head.bbox_head.num_classes = C
    cfg.model.roi_head.mask_head.num_classes = C
    cfg.model.roi_head.bbox_head.type = 'Shared2FCBBoxHead'
    cfg.model.roi_head.bbox_head.pop('feature')
    cfg.model.roi_head.bbox_head.pop('scale')
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp_path / 'stage1.pth')
    torch.save({'meta': {'x': 1}, 'state_dict': model.state_dict()}, path)
    return path, model


def test_ncm_tool_means(tmp_path, stage1):
    ckpt, model = stage1
    out = str(tmp_path / 'ncm.pth')
    tool = load_tool()
    tool.main([CFG, ckpt, '--out', out, '--num-workers', '0',
               '--batch-size', '2', '--cfg-options'] +
              cfg_options(str(tmp_path)))
    ck = torch.load(out, weights_only=False)
    sd = ck['state_dict']
    counts = sd['roi_head.bbox_head.class_counts']
    # GT boxes per class: c1 3, c2 2, c3 1; background RoIs sampled
    assert counts[:C].tolist() == [3, 2, 1]
    assert counts[C] > 0
    means = sd['roi_head.bbox_head.class_means']
    assert means.shape == (C + 1, 64)  # conv feature: FPN channels
    assert ck['meta']['ncm']['feature'] == 'conv' and ck['meta']['x'] == 1
    for k, v in model.state_dict().items():
        assert torch.equal(sd[k], v), k

    # class 3's mean = RoI feature of its single box, scaled by 160/64
    model.eval()
    img = mmcv.imresize(
        mmcv.imread(osp.join(str(tmp_path), 'train2017/000000000003.jpg')),
        (160, 160))
    data = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(img).permute(2, 0, 1).contiguous()]),
        False)
    x, y, w, h = BOXES[3][0][1]
    box = torch.tensor([[0., x, y, x + w, y + h]]) * torch.tensor(
        [1., 2.5, 2.5, 2.5, 2.5])
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        roi = model.roi_head.bbox_roi_extractor(feats[:4], box)
    expected = roi.mean(dim=(2, 3))[0]
    assert torch.allclose(means[2], expected, atol=1e-4)

    # the checkpoint runs through the NCM head of the config
    cfg = Config.fromfile(CFG)
    cfg.merge_from_dict({
        'model.roi_head.bbox_head.num_classes': C,
        'model.roi_head.mask_head.num_classes': C
    })
    ncm = MODELS.build(cfg.model).eval()
    ncm.load_state_dict(sd, strict=True)
    with torch.no_grad():
        cls_score, _ = ncm.roi_head.bbox_head(roi)
    assert cls_score.shape == (1, C + 1)
    assert cls_score.argmax(1).item() == 2  # its own mean: cosine 1
    assert cls_score[0, 2].item() == pytest.approx(20.0, abs=1e-3)


def test_ncm_tool_warns_on_missing_class_and_checks_head(tmp_path, stage1):
    ckpt, _ = stage1
    tool = load_tool()
    # first image only: class 3 has no box
    with pytest.warns(UserWarning, match='1 of 3 classes have no training'):
        tool.main([CFG, ckpt, '--out', str(tmp_path / 'a.pth'),
                   '--feature', 'fc', '--max-images', '1', '--num-workers',
                   '0', '--cfg-options'] + cfg_options(str(tmp_path)))
    sd = torch.load(str(tmp_path / 'a.pth'), weights_only=False)['state_dict']
    assert sd['roi_head.bbox_head.class_counts'][:C].tolist() == [1, 1, 0]
    assert sd['roi_head.bbox_head.class_means'].shape == (C + 1, 256)
    bad = tmp_path / 'cascade.py'
    bad.write_text(f"_base_ = '{CFG}'\nmodel = dict(roi_head=dict("
                   "bbox_head=[dict(type='Shared2FCBBoxHead')]))\n")
    with pytest.raises(SystemExit, match='cascade'):
        tool.main([str(bad), ckpt, '--out', str(tmp_path / 'b.pth')])
