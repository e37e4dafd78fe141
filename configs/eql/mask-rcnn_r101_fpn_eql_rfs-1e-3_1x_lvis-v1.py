# EQL, Mask R-CNN R101-FPN 1x, LVIS v1, with repeat factor sampling (t = 1e-3, ceil rounding).
_base_ = './mask-rcnn_r101_fpn_eql_1x_lvis-v1.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='RepeatFactorDataset',
        thr=1e-3,
        rounding='ceil',
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook')
]
