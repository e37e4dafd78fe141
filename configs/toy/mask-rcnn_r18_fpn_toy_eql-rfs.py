# EQL + repeat factor sampling on the toy set. LVIS's t = 0.001 over ~100k
# images oversamples classes in fewer than ~100 images (max r ~ 10); the toy
# set has 748 training images, so the same profile needs t ~ 0.15 (rarest
# class: r = sqrt(0.15 / (1/748)) ~ 10.6).
_base_ = './mask-rcnn_r18_fpn_toy_eql.py'
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
