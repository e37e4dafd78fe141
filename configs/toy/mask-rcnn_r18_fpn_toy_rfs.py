# CE + repeat factor sampling (Gupta et al., LVIS, CVPR 2019) on the toy set:
# the CE baseline with its training set wrapped in RepeatFactorDataset. The
# toy set has 748 training images, so LVIS's t = 0.001 (over ~100k images)
# becomes t = 0.15: the rarest class gets r = sqrt(0.15 / (1/748)) ~ 10.6,
# LVIS's oversampling profile (see mask-rcnn_r18_fpn_toy_eql-rfs.py).
_base_ = './mask-rcnn_r18_fpn_toy_ce.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='RepeatFactorDataset',
        thr=0.15,
        rounding='ceil',
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook')
]
