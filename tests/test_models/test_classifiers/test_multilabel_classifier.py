"""MultiLabelClassifier + PFC neck: shapes, modes, loss wiring, a few
optimisation steps, and the PFC's layers."""
import pytest
import torch
from mmengine.structures import BaseDataElement

import mmlt  # noqa: F401
from mmdet.registry import MODELS
from mmlt.models.classifiers.multilabel import multi_hot


def tiny(loss_cls=None, neck=True):
    cfg = dict(
        type='MultiLabelClassifier',
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0, 0, 0],
                               std=[255, 255, 255], bgr_to_rgb=True),
        backbone=dict(type='ResNet', depth=18, base_channels=8,
                      out_indices=(3, ), init_cfg=None),
        neck=dict(type='PFC', in_channels=64, out_channels=16,
                  dropout=0.5) if neck else None,
        num_classes=5,
        in_channels=16 if neck else 64)
    if loss_cls is not None:
        cfg['loss_cls'] = loss_cls
    return MODELS.build(cfg)


def batch(n=4):
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 255, (3, 32, 32), generator=g,
                            dtype=torch.uint8) for _ in range(n)]
    samples = []
    for i in range(n):
        s = BaseDataElement(metainfo=dict(img_id=i))
        s.gt_label = torch.tensor([i % 5, (i + 2) % 5])
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_multi_hot():
    s = [BaseDataElement(gt_label=torch.tensor([0, 3])),
         BaseDataElement(gt_label=torch.tensor([], dtype=torch.long))]
    assert multi_hot(s, 4).tolist() == [[1, 0, 0, 1], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match='outside'):
        multi_hot([BaseDataElement(gt_label=torch.tensor([4]))], 4)


def test_modes_and_training_steps():
    torch.manual_seed(0)
    model = tiny(dict(type='DistributionBalancedLoss',
                      class_freq=[8, 6, 4, 2, 1], num_images=10))
    model.init_weights()
    assert model.loss_cls.num_classes == 5
    data = model.data_preprocessor(batch(), True)
    assert data['inputs'].shape == (4, 3, 32, 32)
    assert model(data['inputs'], mode='tensor').shape == (4, 5)
    from mmengine.optim import OptimWrapper
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    losses = [model.train_step(batch(), optim)['loss_cls'].item()
              for _ in range(8)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    model.eval()
    out = model.val_step(batch())
    assert len(out) == 4
    assert out[0].pred_score.shape == (5, )
    assert torch.allclose(out[0].pred_score, out[0].pred_logit.sigmoid())
    assert out[0].img_id == 0


def test_plain_loss_without_statistics_and_mismatch():
    model = tiny(dict(type='DistributionBalancedLoss', reweight_func=None,
                      logit_reg=dict()), neck=False)
    assert model.loss_cls.num_classes == 5
    with pytest.raises(ValueError,
                       match='num_classes=5 but the class statistics have 3'):
        tiny(dict(type='DistributionBalancedLoss', class_freq=[1, 2, 3],
                  num_images=5))


def test_pfc_layers():
    pfc = MODELS.build(dict(type='PFC', in_channels=8, out_channels=4,
                            dropout=0.0))
    pfc.init_weights()
    assert pfc.bn.weight.tolist() == [1.0] * 4
    assert pfc.fc.bias.tolist() == [0.0] * 4
    x = torch.randn(6, 8)
    pfc.eval()
    expected = pfc.bn(pfc.fc(x))
    assert torch.allclose(pfc(x), expected)
    # a 4-D map is average-pooled first; tuples use the last entry
    assert torch.allclose(pfc((x[:, :, None, None].expand(6, 8, 3, 3), )),
                          expected, atol=1e-6)
    two = MODELS.build(dict(type='PFC', in_channels=8, out_channels=4,
                            layers=2, relu=True))
    assert two(x).shape == (6, 4)


def test_toy_pretrained_configs_load_backbone_only(tmp_path):
    """configs/toy/db/pretrained/*: init_weights takes the backbone of the
    pre-training checkpoint (prefix 'backbone.'); neck and classifier keep
    their fresh init, as when starting from an ImageNet backbone."""
    import glob
    import os.path as osp

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    src = MODELS.build(
        Config.fromfile(osp.join(root, 'configs/toy/db/pretrain.py')).model)
    ckpt = tmp_path / 'pretrain.pth'
    torch.save({'state_dict': src.state_dict()}, ckpt)
    cfgs = sorted(glob.glob(osp.join(root, 'configs/toy/db/pretrained/*.py')))
    assert len(cfgs) == 8
    for path in cfgs:
        cfg = Config.fromfile(path)
        assert cfg.model.backbone.init_cfg.checkpoint == \
            'work_dirs/toy_db_pt/pretrain.pth'
        cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
        # plain BCE: the statistics-based losses would need the toy data
        cfg.model.loss_cls = dict(
            type='DistributionBalancedLoss', reweight_func=None,
            focal=dict(focal=False), logit_reg=dict())
        torch.manual_seed(1)
        model = MODELS.build(cfg.model)
        model.init_weights()
        for k, v in model.backbone.state_dict().items():
            assert torch.equal(v, src.backbone.state_dict()[k]), (path, k)
        assert not torch.equal(model.fc_cls.weight, src.fc_cls.weight)
        assert not torch.equal(model.neck.fc.weight, src.neck.fc.weight)
