# CE Mask R-CNN R50-FPN 1x on LVIS v1 with repeat factor sampling (LVIS paper App. B.2): r_c = max(1,
# sqrt(t / f_c)), image factor = max over its classes, t = 0.001, ceil
# rounding as in mmdet (fixed epoch length). rounding='stochastic' gives
# detectron2's floor + Bernoulli(frac) redrawn every epoch by
# RepeatFactorEpochHook.
_base_ = './mask-rcnn_r50_fpn_1x_lvis-v1.py'
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
