# Equalized Quality Focal Loss (Li et al., CVPR 2022) on mmdet's GFL R50-FPN
# (ATSS assignment, quality focal loss on the IoU target, distribution focal
# loss, GIoU), LVIS v1: gamma_j = 2 + 8 (1 - g_j), weight gamma_j / 2. An
# mmlt variant (the EQFL originals are YOLOX only): RFS t=0.001 (ceil), MS
# 640-800, 24 epochs (steps 16, 22), 1-epoch linear warm-up, lr 0.01 for
# 8 x 2 images (mmdet's GFL), gradient clipping 35; test: no score
# threshold, top 6000 per level, NMS 0.6 (GFL's), 300 detections;
# evaluation after the last epoch.
# Data (RFS, MS), schedule, runtime and hooks from the EFL RetinaNet config.
_base_ = './retinanet_r50_fpn_efl_rfs-1e-3_2x_lvis-v1.py'
num_classes = 1203
model = dict(
    type='GFL',
    neck=dict(add_extra_convs='on_output'),
    bbox_head=dict(
        _delete_=True,
        type='GFLHead',
        num_classes=num_classes,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            octave_base_scale=8,
            scales_per_octave=1,
            strides=[8, 16, 32, 64, 128]),
        loss_cls=dict(
            type='EqualizedQualityFocalLoss',
            num_classes=num_classes,
            use_sigmoid=True,
            beta=2.0,
            scale_factor=8.0,
            loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        reg_max=16,
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(
        _delete_=True,
        assigner=dict(type='ATSSAssigner', topk=9),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))
