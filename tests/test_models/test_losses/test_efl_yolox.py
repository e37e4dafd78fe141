"""EFL / EQFL with the soft [N, C] targets of mmdet's YOLOXHead
(``one_hot(label) * IoU`` of the positives): equal to the label /
(label, score) paths, errors, and a small YOLOXHead training step."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmlt.models.losses import EqualizedFocalLoss, EqualizedQualityFocalLoss


def soft_case(n=24, c=5, seed=0):
    """Logits [N, C], labels in [0, C] (C = background), IoU scores in
    (0, 1] and the YOLOX soft target one_hot(label) * IoU."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * 3 - 1
    labels = torch.randint(0, c, (n, ), generator=g)
    labels[:n // 4] = c  # all-zero rows
    score = torch.rand(n, generator=g, dtype=torch.float64) * 0.9 + 0.1
    score[labels == c] = 0
    soft = F.one_hot(labels, c + 1)[:, :c].double() * score[:, None]
    return z, labels, score, soft


def _run(loss_cls, z, target, **kw):
    zz = z.detach().clone().requires_grad_()
    out = loss_cls(zz, target, **kw)
    out.backward(torch.ones_like(out))
    return out.detach(), zz.grad, loss_cls.pos_grad.clone(), \
        loss_cls.neg_grad.clone(), loss_cls.pos_neg.clone()


@pytest.mark.parametrize('reduction', ['sum', 'mean', 'none'])
def test_eqfl_soft_target_equals_label_score(reduction):
    z, labels, score, soft = soft_case()
    c = z.shape[1]
    a = EqualizedQualityFocalLoss(num_classes=c, scale_factor=4.0,
                                  reduction=reduction).train()
    b = EqualizedQualityFocalLoss(num_classes=c, scale_factor=4.0,
                                  reduction=reduction).train()
    for step in range(2):  # the second step with g != 1
        zs = z + step
        got = _run(a, zs, soft)
        ref = _run(b, zs, (labels, score))
        for x, y in zip(got, ref):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert (a.pos_neg < 1).any()
    # float32 soft target (as YOLOXHead builds it) with float32 logits
    got = _run(a, z.float(), soft.float())
    ref = _run(b, z.float(), (labels, score.float()))
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])


@pytest.mark.parametrize('reduction', ['sum', 'mean', 'none'])
def test_efl_soft_target_equals_labels(reduction):
    z, labels, _, soft = soft_case(seed=1)
    c = z.shape[1]
    a = EqualizedFocalLoss(num_classes=c, scale_factor=4.0,
                           reduction=reduction).train()
    b = EqualizedFocalLoss(num_classes=c, scale_factor=4.0,
                           reduction=reduction).train()
    for step in range(2):
        zs = z - step
        got = _run(a, zs, soft)  # IoU value dropped: binary targets
        ref = _run(b, zs, labels)
        for x, y in zip(got, ref):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert (a.pos_neg < 1).any()


def test_soft_target_hand_example():
    """Two rows, C = 3: row 0 positive of class 2 with IoU 0.6, row 1
    background."""
    z = torch.tensor([[0.3, -1.0, 0.8], [-2.0, 0.5, -0.1]],
                     dtype=torch.float64)
    soft = torch.tensor([[0., 0., 0.6], [0., 0., 0.]], dtype=torch.float64)
    eqfl = EqualizedQualityFocalLoss(num_classes=3, reduction='sum').eval()
    p = torch.sigmoid(z)
    ref = (p.pow(2) * F.softplus(z)).sum() - p[0, 2]**2 * F.softplus(
        z[0, 2]) + (0.6 - p[0, 2]).abs()**2 * \
        F.binary_cross_entropy_with_logits(z[0, 2], torch.tensor(0.6,
                                           dtype=torch.float64))
    torch.testing.assert_close(eqfl(z, soft), ref)
    efl = EqualizedFocalLoss(num_classes=3, reduction='sum').eval()
    torch.testing.assert_close(efl(z, soft), efl(z, torch.tensor([2, 3])))


def test_soft_target_errors():
    efl = EqualizedFocalLoss(num_classes=3)
    eqfl = EqualizedQualityFocalLoss(num_classes=3)
    two = torch.tensor([[0.5, 0.2, 0.], [0., 0., 0.]])
    for loss in (efl, eqfl):
        with pytest.raises(ValueError, match='at most one non-zero'):
            loss(torch.zeros(2, 3), two)
        with pytest.raises(ValueError, match=r'\[0, 1\]'):
            loss(torch.zeros(2, 3), torch.tensor([[0., 1.5, 0.],
                                                  [0., 0., 0.]]))
    # 0/1 multi-hot stays valid for EFL, not for EQFL (one label per row)
    multi = torch.tensor([[1., 1., 0.], [0., 0., 0.]])
    assert torch.isfinite(efl(torch.zeros(2, 3), multi))
    with pytest.raises(ValueError, match='at most one non-zero'):
        eqfl(torch.zeros(2, 3), multi)
    with pytest.raises(ValueError, match='floating point'):
        eqfl(torch.zeros(2, 3), torch.tensor([[0, 2, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match='labels, scores'):
        eqfl(torch.zeros(2, 3), torch.zeros(2, 4))


# ------------------------------------------------------------- YOLOXHead
def _yolox(loss_cls, c=5):
    from mmdet.models.dense_heads import YOLOXHead
    torch.manual_seed(0)
    head = YOLOXHead(
        num_classes=c, in_channels=16, feat_channels=16, stacked_convs=1,
        strides=(8, 16, 32), loss_cls=loss_cls,
        train_cfg=ConfigDict(
            assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
        test_cfg=ConfigDict(score_thr=1e-4,
                            nms=dict(type='nms', iou_threshold=0.65)))
    head.init_weights()
    return head


def _batch(s=64):
    torch.manual_seed(1)
    feats = [torch.rand(2, 16, s // k, s // k) for k in (8, 16, 32)]
    metas = [dict(img_shape=(s, s), pad_shape=(s, s), scale_factor=(1., 1.),
                  batch_input_shape=(s, s))] * 2
    gts = [
        InstanceData(bboxes=torch.tensor([[4., 6., 40., 50.],
                                          [30., 20., 60., 62.]]),
                     labels=torch.tensor([1, 4])),
        InstanceData(bboxes=torch.tensor([[10., 10., 30., 28.]]),
                     labels=torch.tensor([1])),
    ]
    return feats, gts, metas


@pytest.mark.parametrize('kind', ['EFL', 'EQFL'])
def test_yolox_head_training_steps(kind):
    c = 5
    if kind == 'EFL':
        ours = dict(type='EFL', num_classes=c, use_sigmoid=True, gamma=2.0,
                    alpha=0.25, scale_factor=4.0, reduction='sum')
    else:
        ours = dict(type='EQFL', num_classes=c, use_sigmoid=True, beta=2.0,
                    scale_factor=4.0, reduction='sum')
    head = _yolox(ours, c).train()
    loss_mod = head.loss_cls
    feats, gts, metas = _batch()
    losses = head.loss_by_feat(*head(feats), gts, metas)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_obj'}
    assert all(torch.isfinite(v) and v.requires_grad
               for v in losses.values())
    assert losses['loss_cls'] > 0
    if kind == 'EQFL':
        # g = 1 at the first step: mmdet's QualityFocalLoss (its tensor
        # target path) on the same head
        ref = _yolox(dict(type='QualityFocalLoss', use_sigmoid=True,
                          beta=2.0, reduction='sum'), c).train()
        ref.load_state_dict(head.state_dict(), strict=False)
        ref_l = ref.loss_by_feat(*ref(feats), gts, metas)
        torch.testing.assert_close(losses['loss_cls'], ref_l['loss_cls'])
    assert (loss_mod.pos_grad == 0).all() and (loss_mod.pos_neg == 1).all()
    sum(losses.values()).backward()
    # after backward: positives of classes 1 and 4 only; the other
    # classes have only negative gradient -> g = 0
    assert (loss_mod.pending_grad == 0).all()
    assert loss_mod.pos_grad[[1, 4]].gt(0).all()
    assert loss_mod.pos_grad[[0, 2, 3]].eq(0).all()
    assert loss_mod.neg_grad.gt(0).all()
    assert (loss_mod.pos_neg[[0, 2, 3]] == 0).all()
    assert (loss_mod.pos_neg[[1, 4]] > 0).all()
    assert torch.allclose(loss_mod.focusing_factor()[[0, 2, 3]],
                          torch.tensor(6., dtype=torch.float64))  # 2 + 4
    before = loss_mod.pos_grad.clone()
    # a second step through the data-sample API uses the new g
    from mmdet.structures import DetDataSample
    samples = []
    for gt, meta in zip(gts, metas):
        ds = DetDataSample(metainfo=meta)
        ds.gt_instances = gt
        samples.append(ds)
    losses2 = head.loss(feats, samples)
    assert all(torch.isfinite(v) for v in losses2.values())
    sum(losses2.values()).backward()
    assert (loss_mod.pos_grad > before).any()
    # inference is unchanged by the loss
    head.eval()
    with torch.no_grad():
        res = head.predict(feats, samples, rescale=False)
    assert len(res) == 2 and res[0].labels.max() < c
