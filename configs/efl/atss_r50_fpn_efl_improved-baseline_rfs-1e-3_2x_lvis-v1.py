# EFL on the "improved baseline" of Li et al. (CVPR 2022): United-Perception's
# efl_improved_baseline_r50_2x_rfs.yaml, reported R50 27.5 AP (APr 20.2 /
# APc 26.1 / APf 32.4) on LVIS v1. The detector of
# ../_base_/models/atss_r50_fpn_efl.py (mmdet's ATSS with 2 anchors, GIoU,
# GN head, prior 0.001, frozen BN, EFL) with RFS t=0.001 (ceil, epoch =
# repeated list), MS 640-800, 24 epochs (steps 16, 22), lr 0.02 for 16 images
# (8 GPUs x 2, the original README's 8-GPU setting; its runs used 16 x 1),
# 1-epoch linear warm-up from 0.001, gradient clipping 35, evaluation after
# the last epoch (the original's test_freq 24).
_base_ = [
    '../_base_/models/atss_r50_fpn_efl.py',
    '../_base_/datasets/lvis_v1_detection_rfs.py',
    'mmdet::_base_/schedules/schedule_2x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
num_classes = 1203
model = dict(
    bbox_head=dict(
        num_classes=num_classes, loss_cls=dict(num_classes=num_classes)))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.001,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR',
        begin=0,
        end=24,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(lr=0.02), clip_grad=dict(max_norm=35, norm_type=2))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook'),
    dict(type='LossStateLoggerHook'),
]
train_cfg = dict(val_interval=24)
auto_scale_lr = dict(enable=False, base_batch_size=16)
