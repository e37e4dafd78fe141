# One-stage toy baseline: RetinaNet with mmdet's sigmoid focal loss on the
# embedded toy LVIS set, the reference row of EFL (retinanet_r18_fpn_toy_efl
# .py). Data, schedule (5 epochs, 2 processes x 2 images, lr 0.02, step at
# 4), backbone (ResNet-18 at half width, GroupNorm, from scratch) and
# runtime from the toy Mask R-CNN (mask-rcnn_r18_fpn_toy_ce.py); GN head,
# P3-P7 (64 channels), 3 anchors per location from 16 px (objects are
# 14-100 px), LVIS test protocol (score 1e-4, 100 detections per image).
_base_ = './mask-rcnn_r18_fpn_toy_ce.py'
model = dict(
    _delete_=True,
    type='RetinaNet',
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    neck=dict(
        type='FPN',
        in_channels=[32, 64, 128, 256],
        out_channels={{_base_.feat}},
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5),
    bbox_head=dict(
        type='RetinaHead',
        num_classes={{_base_.num_classes}},
        in_channels={{_base_.feat}},
        stacked_convs=4,
        feat_channels={{_base_.feat}},
        norm_cfg={{_base_.norm_cfg}},
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=2,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0,
            ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.0001,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
