# One-stage toy baseline with a quality branch: GFL (ATSS assignment, GIoU,
# distribution focal loss) with mmdet's Quality Focal Loss, the reference
# row of EQFL (gfl_r18_fpn_toy_eqfl.py). Backbone, FPN, data, schedule and
# runtime as retinanet_r18_fpn_toy_focal.py; 1 anchor per location, 24 px
# at P3.
_base_ = './retinanet_r18_fpn_toy_focal.py'
model = dict(
    type='GFL',
    neck=dict(add_extra_convs='on_output'),
    bbox_head=dict(
        _delete_=True,
        type='GFLHead',
        num_classes={{_base_.num_classes}},
        in_channels={{_base_.feat}},
        stacked_convs=4,
        feat_channels={{_base_.feat}},
        norm_cfg={{_base_.norm_cfg}},
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            octave_base_scale=3,
            scales_per_octave=1,
            strides=[8, 16, 32, 64, 128]),
        loss_cls=dict(
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
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
