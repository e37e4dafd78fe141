"""EQL / EQLv2 inside mmdet's unmodified Shared2FCBBoxHead: classifier
width, sigmoid scores at inference, accuracy keys and prior bias init."""
import math

import pytest
import torch
from mmengine.config import ConfigDict

import mmlt  # noqa: F401  (registers the losses)
from mmdet.registry import MODELS

C = 5
PRIOR = 0.001
FREQ = [0.5, 0.0005, 0.01, 0.0001, 0.2]

# the bias-init snippet given in the docs: with an explicit init_cfg the
# head's default Normal(fc_cls)/Normal(fc_reg)/Xavier(fcs) list must be
# spelled out in full
PRIOR_INIT_CFG = [
    dict(type='Normal',
         std=0.01,
         bias_prob=PRIOR,
         override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
    dict(type='Xavier',
         distribution='uniform',
         override=[
             dict(name='shared_fcs'),
             dict(name='cls_fcs'),
             dict(name='reg_fcs')
         ]),
]


def build_head(loss_cls, init_cfg=None):
    cfg = dict(type='Shared2FCBBoxHead',
               in_channels=4,
               fc_out_channels=16,
               roi_feat_size=3,
               num_classes=C,
               loss_cls=loss_cls)
    if init_cfg is not None:
        cfg['init_cfg'] = init_cfg
    return MODELS.build(cfg)


def hand_scores(logits, kind, with_obj=True):
    p = 1 / (1 + torch.exp(-logits))
    if kind == 'eql':
        return torch.cat([p, torch.zeros(len(p), 1)], 1)
    cls, obj = p[:, :C], p[:, C:]
    return torch.cat([cls * (1 - obj) if with_obj else cls, obj], 1)


LOSSES = {
    'eql':
    dict(type='EqualizationLoss', class_freq=FREQ),
    'eqlv2':
    dict(type='EqualizationLossV2', num_classes=C),
    'eqlv2_noobj':
    dict(type='EqualizationLossV2', num_classes=C, test_with_obj=False),
}


def run_head(kind, n=6, seed=0):
    torch.manual_seed(seed)
    head = build_head(LOSSES[kind]).eval()
    feats = torch.randn(n, 4, 3, 3)
    with torch.no_grad():
        cls_score, bbox_pred = head(feats)
    xy = torch.rand(n, 2) * 40
    rois = torch.cat([torch.zeros(n, 1), xy, xy + 10 + torch.rand(n, 2) * 20],
                     1)
    meta = dict(img_shape=(80, 80), scale_factor=(1., 1.))
    return head, rois, cls_score, bbox_pred, meta


@pytest.mark.parametrize('kind', list(LOSSES))
def test_predict_by_feat_uses_sigmoid(kind):
    head, rois, cls_score, bbox_pred, meta = run_head(kind)
    width = C if kind == 'eql' else C + 1
    assert head.fc_cls.out_features == width
    assert cls_score.shape == (len(rois), width)
    expected = hand_scores(cls_score,
                           'eql' if kind == 'eql' else 'eqlv2',
                           with_obj=kind != 'eqlv2_noobj')

    # raw per-class scores (rcnn_test_cfg=None, the aug-test path)
    res = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ), [meta],
                               rcnn_test_cfg=None)[0]
    torch.testing.assert_close(res.scores, expected)
    softmax = torch.softmax(cls_score, -1)
    assert not torch.allclose(res.scores[:, :C], softmax[:, :C])

    # with NMS: the bg column is dropped, every kept score is a class score
    test_cfg = ConfigDict(score_thr=0.0,
                          nms=dict(type='nms', iou_threshold=0.5),
                          max_per_img=100)
    res = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ), [meta],
                               rcnn_test_cfg=test_cfg)[0]
    assert len(res) > 0 and (res.labels < C).all()
    assert res.scores.max().item() == pytest.approx(
        expected[:, :C].max().item(), rel=1e-6)
    # each kept (box, label) score is the hand score of that class somewhere
    for s, lab in zip(res.scores, res.labels):
        assert torch.isclose(expected[:, lab], s, rtol=1e-6).any()


def test_mmdet_eqlv2loss_would_use_softmax():
    """Why mmlt's flags matter: mmdet 3.3's EQLV2Loss has none of them, so
    BBoxHead falls back to softmax (and C+1 channels by accident)."""
    head = build_head(dict(type='EQLV2Loss', num_classes=C))
    assert not head.custom_cls_channels and not head.custom_activation


@pytest.mark.parametrize('kind', ['eql', 'eqlv2'])
def test_head_loss_and_accuracy(kind):
    head, rois, cls_score, bbox_pred, _ = run_head(kind)
    head.train()
    labels = torch.tensor([0, 3, C, C, 1, C])
    n = len(labels)
    out = head.loss(cls_score, bbox_pred, rois, labels, torch.ones(n),
                    torch.zeros(n, 4), torch.ones(n, 4))
    keys = {'loss_cls', 'loss_bbox', 'acc', 'acc_fg'}
    if kind == 'eqlv2':
        keys.add('acc_obj')
    assert set(out) == keys
    direct = type(head.loss_cls)(**{
        k: v
        for k, v in LOSSES[kind].items() if k != 'type'
    })
    torch.testing.assert_close(out['loss_cls'], direct(cls_score, labels))


@pytest.mark.parametrize('kind', ['eql', 'eqlv2'])
def test_prior_bias_init(kind):
    head = build_head(LOSSES[kind], init_cfg=PRIOR_INIT_CFG)
    head.init_weights()
    bias = -math.log((1 - PRIOR) / PRIOR)
    torch.testing.assert_close(head.fc_cls.bias,
                               torch.full_like(head.fc_cls.bias, bias))
    assert head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.3)
    # the rest keeps mmdet's default init
    assert torch.equal(head.fc_reg.bias, torch.zeros_like(head.fc_reg.bias))
    assert torch.equal(head.shared_fcs[0].bias,
                       torch.zeros_like(head.shared_fcs[0].bias))
    # -> initial sigmoid scores ~ the prior
    with torch.no_grad():
        p = torch.sigmoid(head.fc_cls(torch.zeros(1, 16)))
    torch.testing.assert_close(p, torch.full_like(p, PRIOR))
