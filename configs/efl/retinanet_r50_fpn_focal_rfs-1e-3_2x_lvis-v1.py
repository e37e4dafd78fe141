# Baseline of retinanet_r50_fpn_efl_rfs-1e-3_2x_lvis-v1.py: the same
# RetinaNet R50-FPN recipe with mmdet's sigmoid focal loss (gamma 2,
# alpha 0.25).
_base_ = './retinanet_r50_fpn_efl_rfs-1e-3_2x_lvis-v1.py'
model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0)))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook'),
]
