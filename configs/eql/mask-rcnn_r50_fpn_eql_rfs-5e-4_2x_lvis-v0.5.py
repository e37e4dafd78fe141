# EQL + repeat factor sampling, Mask R-CNN R50-FPN, LVIS v0.5: the
# detectron2 EQL recipe's sampler (eql_resampling_mask_rcnn_R_50_FPN_1x.yaml,
# RepeatFactorTrainingSampler, t = 0.0005): stochastic rounding of the repeat
# factors, redrawn every epoch by RepeatFactorEpochHook. Reported (eqld2
# README, R50): 26.1 mask AP (APr 17.2).
_base_ = './mask-rcnn_r50_fpn_eql_2x_lvis-v0.5.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='RepeatFactorDataset',
        thr=5e-4,
        rounding='stochastic',
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook')
]
