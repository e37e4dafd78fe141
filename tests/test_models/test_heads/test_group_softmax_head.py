"""GroupSoftmaxLoss inside mmdet's unmodified Shared2FCBBoxHead and
CascadeRoIHead: classifier width, merged scores at inference (not softmax),
per-group loss keys, cascade score averaging."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

import mmlt  # noqa: F401  (registers)
from mmdet.registry import MODELS
from mmlt.testing import mmdet_config_path

COUNTS = [3, 15, 150, 2000, 9, 40]
C = 6
K = C + 1 + 5
LOSS = dict(
    type='GroupSoftmaxLoss',
    label_mapping=dict(type='GroupSoftmaxLabelMapping',
                       instance_counts=COUNTS))
# (class, slice start, slice length, in-group index), hand-written layout
CLASS_SLOTS = [(0, 2, 3, 1), (4, 2, 3, 2), (1, 5, 3, 1), (5, 5, 3, 2),
               (2, 8, 2, 1), (3, 10, 2, 1)]


def hand_merge(z):
    p0 = torch.softmax(z[:, 0:2], 1)
    out = torch.empty(len(z), C + 1, dtype=z.dtype)
    out[:, C] = p0[:, 1]
    for c, start, length, pos in CLASS_SLOTS:
        out[:, c] = p0[:, 0] * torch.softmax(z[:, start:start + length],
                                             1)[:, pos]
    return out


def build_head():
    return MODELS.build(
        dict(type='Shared2FCBBoxHead',
             in_channels=4,
             fc_out_channels=16,
             roi_feat_size=3,
             num_classes=C,
             loss_cls=LOSS))


def rois_for(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 40
    wh = 10 + torch.rand(n, 2, generator=g) * 20
    return torch.cat([torch.zeros(n, 1), xy, xy + wh], 1)


def test_fc_cls_width_and_predict_uses_merge():
    torch.manual_seed(0)
    head = build_head().eval()
    assert head.fc_cls.out_features == K
    n = 8
    with torch.no_grad():
        cls_score, bbox_pred = head(torch.randn(n, 4, 3, 3))
        # spread the logits so that the merge differs clearly from softmax
        cls_score = cls_score * 0 + torch.randn(n, K) * 3
    rois = rois_for(n)
    meta = dict(img_shape=(80, 80), scale_factor=(1., 1.))
    res = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ), [meta],
                               rcnn_test_cfg=None)[0]
    expected = hand_merge(cls_score)
    torch.testing.assert_close(res.scores, expected)
    assert not torch.allclose(res.scores,
                              torch.softmax(cls_score[:, :C + 1], 1))
    test_cfg = ConfigDict(score_thr=0.0,
                          nms=dict(type='nms', iou_threshold=0.5),
                          max_per_img=100)
    res = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ), [meta],
                               rcnn_test_cfg=test_cfg)[0]
    assert len(res) > 0 and (res.labels < C).all()
    assert res.scores.max().item() == pytest.approx(
        expected[:, :C].max().item(), rel=1e-6)
    for s, lab in zip(res.scores, res.labels):
        assert torch.isclose(expected[:, lab], s, rtol=1e-6).any()


def test_head_loss_keys_and_values():
    torch.manual_seed(0)
    head = build_head().train()
    n = 6
    cls_score, bbox_pred = head(torch.randn(n, 4, 3, 3))
    labels = torch.tensor([0, 3, C, C, 1, C])
    torch.manual_seed(5)
    out = head.loss(cls_score, bbox_pred, rois_for(n), labels, torch.ones(n),
                    torch.zeros(n, 4), torch.ones(n, 4))
    assert set(out) == {f'loss_cls_group{g}'
                        for g in range(5)} | {'acc', 'acc_fg', 'loss_bbox'}
    torch.manual_seed(5)
    direct = MODELS.build(copy.deepcopy(LOSS))(cls_score, labels)
    for k, v in direct.items():
        torch.testing.assert_close(out[k], v)
    # group 3 (class 2) has no RoI here
    assert out['loss_cls_group3'].item() == 0
    total = sum(v for k, v in out.items() if 'loss' in k)
    total.backward()
    assert head.fc_cls.weight.grad is not None


def tiny_cascade_cfg():
    """mmdet's Cascade Mask R-CNN base at toy width with BAGS in every
    stage."""
    cfg = Config.fromfile(
        mmdet_config_path('_base_/models/cascade-mask-rcnn_r50_fpn.py'))
    m = cfg.model
    m.backbone.update(depth=18, base_channels=8, init_cfg=None)
    m.neck.update(in_channels=[8, 16, 32, 64], out_channels=16)
    m.rpn_head.update(in_channels=16, feat_channels=16)
    rh = m.roi_head
    rh.bbox_roi_extractor.out_channels = 16
    rh.mask_roi_extractor.out_channels = 16
    for h in rh.bbox_head:
        h.update(in_channels=16, fc_out_channels=32, num_classes=C,
                 loss_cls=copy.deepcopy(LOSS))
    rh.mask_head.update(in_channels=16, conv_out_channels=16, num_convs=1,
                        num_classes=C)
    for stage in m.train_cfg.rcnn:
        stage.sampler.num = 32
    m.test_cfg.rcnn.update(score_thr=0.0, max_per_img=20)
    return m


def test_cascade_every_stage_uses_the_loss_and_averaged_logits_merge():
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(tiny_cascade_cfg())
    model.init_weights()
    s = 64
    sample = DetDataSample(metainfo=dict(
        img_shape=(s, s), ori_shape=(s, s), pad_shape=(s, s),
        scale_factor=(1., 1.), batch_input_shape=(s, s)))
    masks = np.zeros((2, s, s), np.uint8)
    masks[0, 5:30, 5:35] = 1
    masks[1, 25:60, 20:50] = 1
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[5., 5., 35., 30.], [20., 25., 50., 60.]]),
        labels=torch.tensor([0, 3]),
        masks=BitmapMasks(masks, s, s))
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, s, s), dtype=torch.uint8)],
             data_samples=[sample]), True)
    model.train()
    losses = model(**data, mode='loss')
    for stage in range(3):
        assert model.roi_head.bbox_head[stage].fc_cls.out_features == K
        for g in range(5):
            assert f's{stage}.loss_cls_group{g}' in losses
        assert f's{stage}.acc_fg' in losses
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)

    # inference: mmdet averages the stages' raw logits and the last head
    # merges the average (each stage has the same layout)
    model.eval()
    captured = []
    hooks = [
        h.fc_cls.register_forward_hook(
            lambda mod, inp, out: captured.append(out.detach()))
        for h in model.roi_head.bbox_head
    ]
    with torch.no_grad():
        x = model.extract_feat(data['inputs'])
        props = model.rpn_head.predict(x, data['data_samples'], rescale=False)
        props = [p[:10] for p in props]
        metas = [d.metainfo for d in data['data_samples']]
        res = model.roi_head.predict_bbox(x, metas, props, rcnn_test_cfg=None,
                                          rescale=False)[0]
    for h in hooks:
        h.remove()
    assert len(captured) == 3
    avg = sum(captured) / 3
    torch.testing.assert_close(res.scores, hand_merge(avg))
