# Baseline of gfl_r50_fpn_eqfl_rfs-1e-3_2x_lvis-v1.py: mmdet's Quality Focal
# Loss (beta 2), same detector and schedule.
_base_ = './gfl_r50_fpn_eqfl_rfs-1e-3_2x_lvis-v1.py'
model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0)))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook'),
]
