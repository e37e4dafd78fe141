# EQL, Mask R-CNN R50-FPN, LVIS v0.5, (the detectron2 EQL recipe's t) with repeat factor sampling (t = 5e-4, ceil rounding).
_base_ = './mask-rcnn_r50_fpn_eql_2x_lvis-v0.5.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='RepeatFactorDataset',
        thr=5e-4,
        rounding='ceil',
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook')
]
