# Equalized Focal Loss (Li et al., "Equalized Focal Loss for Dense
# Long-Tailed Object Detection", CVPR 2022) on mmdet's RetinaNet R50-FPN,
# LVIS v1: gamma_j = 2 + 8 (1 - g_j), weight gamma_j / 2, alpha 0.25, g_j
# the accumulated gradient ratio (loss buffers, exact on resume). An mmlt
# variant (no original of its own): mmdet's RetinaNet model and lr (0.01 for
# 8 x 2 images, BN affine trained) with the data, schedule and test settings
# of the EFL improved baseline (efl_improved_baseline_r50_2x_rfs.yaml): RFS
# t = 0.001 (ceil), MS 640-800, 24 epochs (steps 16, 22), 1-epoch linear
# warm-up, gradient clipping 35; test: no score threshold, top 6000 per
# level before NMS, NMS 0.5, 300 detections; evaluation after the last
# epoch.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/lvis_v1_detection_rfs.py',
    'mmdet::_base_/schedules/schedule_2x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
num_classes = 1203
model = dict(
    bbox_head=dict(
        num_classes=num_classes,
        loss_cls=dict(
            _delete_=True,
            type='EqualizedFocalLoss',
            num_classes=num_classes,
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            scale_factor=8.0,
            loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=6000,
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=300))
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
    optimizer=dict(lr=0.01), clip_grad=dict(max_norm=35, norm_type=2))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook'),
    dict(type='LossStateLoggerHook'),
]
train_cfg = dict(val_interval=24)
auto_scale_lr = dict(enable=False, base_batch_size=16)
