# Softmax CE baseline: Cascade Mask R-CNN X101-64x4d-FPN, 1x, LVIS v0.5,
# started from ImageNet weights (open-mmlab://resnext101_64x4d). mmdet's
# Cascade Mask R-CNN model with its X101-64x4d backbone and 1,230 classes in
# every stage, on the schedule of the BAGS baseline (Li et al. CVPR 2020,
# configs/baselines/cascade_rcnn_x101_64x4d_fpn_1x_lvis.py): 8 GPUs x 2
# images at lr 0.01, 12 epochs, steps 8 and 11, warm-up 500 iterations from
# lr/3, gradient clipping 35, test score threshold 0.001 and 300 detections.
# The original is a box-only Cascade R-CNN started from its COCO model; the
# default stage 1 (cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5.py) starts
# from mmdet's COCO Cascade Mask R-CNN, this variant from ImageNet.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    '../_base_/datasets/lvis_v05_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py', '../_base_/decoupled/bags_1x.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
num_classes = 1230
# box-regression target stds of the three stages (mmdet's cascade values)
stage_stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
              [0.033, 0.033, 0.067, 0.067]]
model = dict(
    backbone=dict(
        type='ResNeXt',
        depth=101,
        groups=64,
        base_width=4,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnext101_64x4d')),
    roi_head=dict(
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
        mask_head=dict(num_classes=num_classes)),
    test_cfg=dict(rcnn=dict(score_thr=0.001, max_per_img=300)))
# the mmdet v1 schedule of the BAGS repo (lr 0.01 for 8 x 2, clip 35)
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
# single scale 1333x800, as the original (mmdet v1 baseline)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
