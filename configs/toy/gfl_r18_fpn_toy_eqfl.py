# Equalized Quality Focal Loss (Li et al., CVPR 2022) on the toy GFL: the QFL
# baseline (gfl_r18_fpn_toy_qfl.py) with loss_cls replaced: the quality
# focal loss with per-class focusing factor gamma_j = 2 + 8 (1 - g_j) and
# weight gamma_j / 2.
_base_ = './gfl_r18_fpn_toy_qfl.py'
model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='EqualizedQualityFocalLoss',
            num_classes={{_base_.num_classes}},
            use_sigmoid=True,
            beta=2.0,
            scale_factor=8.0,
            loss_weight=1.0)))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='LossStateLoggerHook', interval=20),
]
