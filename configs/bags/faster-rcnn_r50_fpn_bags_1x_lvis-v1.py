# BAGS (Balanced Group Softmax, Li et al. CVPR 2020) stage 2: Faster R-CNN
# R50-FPN, LVIS v1. Starts from the softmax-CE baseline
# `faster-rcnn_r50_fpn_1x_lvis-v1.py` (train it first; `load_from` is where
# its last epoch lands), trains only fc_cls, re-initialised because it grows
# from C+1 to C+1+G logits (groups of the training instance counts: <10,
# [10,100), [100,1000), >=1000 plus the background group -> 1203 + 1 + 5 =
# 1209). lr 0.01, 12 epochs, steps 8 and 11, warm-up 500 iterations from
# lr/3, gradient clipping 35.
_base_ = [
    '../lvis/faster-rcnn_r50_fpn_1x_lvis-v1.py',
    '../_base_/decoupled/cls_only.py', '../_base_/decoupled/bags_1x.py'
]
load_from = 'work_dirs/faster-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
decoupled = dict(reinit=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'])
model = dict(
    # the original's test setting: score threshold 0.0, 300 detections
    test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=300)),
    # every frozen weight comes from load_from: no ImageNet download
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='GroupSoftmaxLoss',
                num_classes=1203,
                others_sample_ratio=8.0,
                label_mapping=dict(
                    type='GroupSoftmaxLabelMapping',
                    num_classes=1203,
                    # or stats_file=... / mapping_file=DIR written by
                    # tools/misc/bags_mapping.py
                    ann_file='data/lvis_v1/annotations/lvis_v1_train.json',
                    bin_edges=(10, 100, 1000))))))
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
# single scale 1333x800, as the original (mmdet v1 baseline)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
