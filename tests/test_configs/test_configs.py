"""Every config parses, registers through custom_imports and builds its
model; the LVIS-scale Mask R-CNN runs a training forward with 1,203
classes."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdet.registry import DATASETS, HOOKS, METRICS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# configs/benchmark/* only add a `benchmark` dict to a toy config built here;
# tests/test_tools/test_run_all.py parses them
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in p and osp.join('configs', 'benchmark') not in p)


def _types(cfg_node):
    out = []
    if isinstance(cfg_node, dict):
        if 'type' in cfg_node and isinstance(cfg_node['type'], str):
            out.append(cfg_node['type'])
        for v in cfg_node.values():
            out += _types(v)
    elif isinstance(cfg_node, (list, tuple)):
        for v in cfg_node:
            out += _types(v)
    return out


def _point_losses_at_data(node, toy_train_ann):
    """Losses that read class statistics from a training json get the toy
    file (toy configs) or a synthetic frequency table (real-data configs,
    whose LVIS files are not on this machine)."""
    if isinstance(node, dict):
        kind = str(node.get('type', ''))
        if 'ann_file' in node and kind.startswith(
                ('Equalization', 'ClassWeighted')):
            ann = node.pop('ann_file')
            rng = np.random.default_rng(0)
            if 'toy_lvis' in ann:
                node['ann_file'] = toy_train_ann
            elif kind.startswith('Equalization'):
                node['class_freq'] = rng.uniform(
                    1e-5, 0.1, node['num_classes']).tolist()
            else:
                node['class_counts'] = rng.integers(
                    0, 1000, node['num_classes']).tolist()
        if kind == 'DistributionBalancedLoss':
            if 'toy_lvis' in str(node.get('ann_file', '')):
                node['ann_file'] = toy_train_ann
            elif 'freq_file' in node:  # COCO-MLT (80) / VOC-MLT (20)
                num = 80 if 'coco' in node.pop('freq_file') else 20
                node['class_freq'] = np.random.default_rng(0).integers(
                    1, 1000, num).tolist()
                node['num_images'] = 2000
        if node.get('type') == 'GroupSoftmaxLabelMapping' and \
                'ann_file' in node:
            ann = node.pop('ann_file')
            if 'toy_lvis' in ann:
                node['ann_file'] = toy_train_ann
            else:  # log-uniform 1..22k instances: all four BAGS bins
                rng = np.random.default_rng(0)
                node['instance_counts'] = np.round(
                    np.exp(rng.uniform(0, 10, node['num_classes']))).astype(
                        int).tolist()
        for v in node.values():
            _point_losses_at_data(v, toy_train_ann)
    elif isinstance(node, list):
        for v in node:
            _point_losses_at_data(v, toy_train_ann)


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path, toy_lvis_root):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmlt']
    init_default_scope('mmdet')
    import mmlt  # noqa: F401
    model_cfg = copy.deepcopy(cfg.model)
    _point_losses_at_data(
        model_cfg, osp.join(toy_lvis_root, 'annotations/lvis_v1_train.json'))
    model = MODELS.build(model_cfg)
    heads = [m for n, m in model.named_modules()
             if hasattr(m, 'num_classes') and not n.endswith('rpn_head')]
    assert len({h.num_classes for h in heads}) == 1
    ds = cfg.train_dataloader.dataset
    chain = [ds]  # wrappers, e.g. MultiImageMixDataset > RFS > LVIS
    while isinstance(chain[-1].get('dataset'), dict):
        chain.append(chain[-1].dataset)
    for d in chain:
        assert DATASETS.get(d.type) is not None
    if any(d.type in ('RepeatFactorDataset', 'ClassAwareDataset')
           for d in chain):
        # the per-epoch redraw needs the epoch hook
        assert any(h.type in ('RepeatFactorEpochHook', 'DatasetEpochHook')
                   for h in cfg.custom_hooks)
    if ds.type == 'ClassAwareDataset':  # its table must be read in order
        assert not cfg.train_dataloader.sampler.get('shuffle', True)
    for h in cfg.get('custom_hooks', []):
        assert HOOKS.get(h.type) is not None
    assert METRICS.get(cfg.val_evaluator.type) is not None
    expected = {'lvis-v1': 1203, 'lvis-v0.5': 1230, 'toy': 60}
    for key, n in expected.items():
        if key in osp.basename(path) or f'/{key}/' in path:
            assert heads[0].num_classes == n


@pytest.mark.parametrize('rel', [
    'lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    'eql/mask-rcnn_r50_fpn_eql_1x_lvis-v1.py',
    'eqlv2/mask-rcnn_r50_fpn_eqlv2_1x_lvis-v1.py',
    'bags/mask-rcnn_r50_fpn_bags_1x_lvis-v1.py',
    'loce/loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py',
])
def test_lvis_scale_mask_rcnn_forward(rel):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    import mmlt  # noqa: F401
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', rel))
    cfg.model.backbone.init_cfg = None
    _point_losses_at_data(cfg.model, None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    s = 128
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(s, s), ori_shape=(s, s), pad_shape=(s, s),
            scale_factor=(1., 1.), batch_input_shape=(s, s)))
    masks = np.zeros((2, s, s), np.uint8)
    masks[0, 10:60, 10:70] = 1
    masks[1, 50:120, 40:100] = 1
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 70., 60.], [40., 50., 100., 120.]]),
        labels=torch.tensor([5, 1202]),
        masks=BitmapMasks(masks, s, s))
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, s, s), dtype=torch.uint8)],
             data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    # softmax CE and EQLv2: C+1 outputs; EQL: C (no background logit)
    expected = 1203 if 'eql_' in rel else 1204
    if 'bags' in rel:  # C + 1 + 5 groups (4 bins + background)
        expected = 1203 + 1 + 5
    assert model.roi_head.bbox_head.fc_cls.out_features == expected
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    if 'eqlv2' in rel:
        assert (model.roi_head.bbox_head.loss_cls.pos_grad > 0).any()
    if 'loce' in rel:  # the full LVIS bank: 16 jittered boxes per GT
        bank = model.roi_head.memory_bank
        assert bank.feats.shape == (1203, 80, 256, 7, 7)
        assert bank.feats.dtype == torch.float16
        assert bank.count[5] == 16 and bank.count[1202] == 16
        m = model.roi_head.bbox_head.loss_cls.mean_score
        assert m[5] != 0.01 and m[1203] == 0.01
        bank.reset(free=True)
