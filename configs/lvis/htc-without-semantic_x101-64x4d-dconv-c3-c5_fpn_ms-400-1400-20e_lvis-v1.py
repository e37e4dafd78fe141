# Softmax CE baseline: HTC X101-64x4d-FPN with DCN in c3-c5, multi-scale
# training (short side 400-1400), 20 epochs, LVIS v1 (the stage-1 model of
# the BAGS HTC config). mmdet's COCO config on the recipe of the BAGS
# baseline (configs/baselines/htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_
# fpn_20e_lvis.py): 8 GPUs x 1 image at lr 0.01 (mmdet's 16 x 1 at 0.02
# scaled to 8 GPUs), 20 epochs, steps 16 and 19, warm-up 500 iterations
# from lr/3, gradient clipping 35, test score threshold 0.001 and 100
# detections; and:
# - no semantic branch: it needs COCO-stuff segmentation maps, which LVIS
#   does not provide (the original BAGS HTC used COCO's stuffthingmaps for
#   the same images; mmlt's LVIS dataset does not load them);
# - LVIS v1 data, mmlt's LongTailLVISDataset and LVIS metric.
_base_ = 'mmdet::htc/htc_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-16xb1-20e_coco.py'
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
num_classes = 1203
stage_stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
              [0.033, 0.033, 0.067, 0.067]]
model = dict(
    data_preprocessor=dict(pad_seg=False),
    roi_head=dict(
        semantic_roi_extractor=None,
        semantic_head=None,
        # lists are replaced, not merged: all three stages spelled out
        bbox_head=[
            dict(
                type='Shared2FCBBoxHead',
                in_channels=256,
                fc_out_channels=1024,
                roi_feat_size=7,
                num_classes=num_classes,
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=stds),
                reg_class_agnostic=True,
                loss_cls=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in stage_stds
        ],
        # the first stage has no residual mask feature (with_conv_res)
        mask_head=[
            dict(
                type='HTCMaskHead',
                with_conv_res=stage > 0,
                num_convs=4,
                in_channels=256,
                conv_out_channels=256,
                num_classes=num_classes,
                loss_mask=dict(
                    type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))
            for stage in range(3)
        ]),
    test_cfg=dict(rcnn=dict(score_thr=0.001, max_per_img=100)))

dataset_type = 'LongTailLVISDataset'
data_root = 'data/lvis_v1/'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomResize',
        scale=[(1600, 400), (1600, 1400)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        version='v1',
        data_root=data_root,
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        version='v1',
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='LongTailLVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
# 8 GPUs x 1 image: ./tools/dist_train.sh CONFIG 8
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0 / 3,
        by_epoch=False,
        begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=20,
        by_epoch=True,
        milestones=[16, 19],
        gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
