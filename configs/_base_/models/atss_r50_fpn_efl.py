# The "improved baseline" detector of EFL (Li et al., CVPR 2022; the original
# is United-Perception's efl_improved_baseline_r50_2x_rfs.yaml) as closely as
# mmdet 3.x allows: mmdet's ATSS = ATSS assignment (top 18 = 9 x 2 anchors),
# GIoU box loss (weight 1, as the original's loc_loss), GN head, P3-P7 (P6
# from C5's lateral, as the original's FPN), with
# 2 anchors per location (scales 6 and 8, ratio 1), classification prior
# 0.001, frozen BN (statistics and affine, the original's freeze_bn) and
# frozen stem + layer 1, and the Equalized Focal Loss (gamma_b 2, alpha
# 0.25, s 8); test as the original: no score threshold, top 6000 per level
# before NMS, NMS 0.5, 300 detections. Difference: the original's IoU branch
# (BCE on the IoU of the predicted box, score = cls x IoU) is mmdet's
# centerness branch here (BCE on the anchor's centerness, score = cls x
# centerness); mmdet 3.x has no IoU-branch RetinaNet/ATSS head. Leaf configs
# set the class count:
#   model = dict(bbox_head=dict(num_classes=C, loss_cls=dict(num_classes=C)))
model = dict(
    type='ATSS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=1,
        # P6 = conv(1x1 lateral of C5), P7 = conv(P6), as the original's FPN
        add_extra_convs='on_lateral',
        num_outs=5),
    bbox_head=dict(
        type='ATSSHead',
        num_classes=None,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            scales=[6, 8],
            strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(
            type='EqualizedFocalLoss',
            num_classes=None,
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            scale_factor=8.0,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='atss_cls', std=0.01, bias_prob=0.001))),
    train_cfg=dict(
        assigner=dict(type='ATSSAssigner', topk=18),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=6000,
        min_bbox_size=0,
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=300))
