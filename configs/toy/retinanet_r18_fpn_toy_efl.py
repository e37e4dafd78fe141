# Equalized Focal Loss (Li et al., CVPR 2022) on the toy RetinaNet: the
# focal-loss baseline (retinanet_r18_fpn_toy_focal.py) with loss_cls
# replaced: gamma_j = 2 + 8 (1 - g_j), weight gamma_j / 2, alpha 0.25, g_j the
# accumulated positive/negative gradient ratio of each class (buffers of the
# loss, logged per frequency group by LossStateLoggerHook).
_base_ = './retinanet_r18_fpn_toy_focal.py'
model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='EqualizedFocalLoss',
            num_classes={{_base_.num_classes}},
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            scale_factor=8.0,
            loss_weight=1.0)))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='LossStateLoggerHook', interval=20),
]
