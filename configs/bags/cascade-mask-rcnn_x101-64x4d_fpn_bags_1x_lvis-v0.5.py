# BAGS (Balanced Group Softmax, Li et al. CVPR 2020) stage 2: Cascade Mask
# R-CNN X101-64x4d-FPN, LVIS v0.5. Starts from the softmax-CE baseline
# `configs/lvis/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5.py` (train it
# first; `load_from` is where its last epoch lands). Every stage gets the
# group-softmax classifier; only the three fc_cls layers train (the cls_only
# pattern matches roi_head.bbox_head.N.fc_cls), re-initialised because they
# grow from C+1 to C+1+G = 1230 + 1 + 5 = 1236 logits. At test time mmdet
# averages the raw logits of the three stages and the last head merges the
# average (same layout in every stage). lr 0.01 for 16 images, 12 epochs,
# steps 8 and 11, warm-up 500 iterations from lr/3, gradient clipping 35.
_base_ = [
    '../lvis/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5.py',
    '../_base_/decoupled/cls_only.py'
]  # bags_1x.py (the schedule below) comes with the stage-1 config
load_from = 'work_dirs/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5/epoch_12.pth'
decoupled = dict(reinit=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'])
num_classes = 1230
stage_stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
              [0.033, 0.033, 0.067, 0.067]]
bags_loss = dict(
    type='GroupSoftmaxLoss',
    num_classes=num_classes,
    others_sample_ratio=8.0,
    label_mapping=dict(
        type='GroupSoftmaxLabelMapping',
        num_classes=num_classes,
        # or stats_file=... / mapping_file=DIR written by
        # tools/misc/bags_mapping.py
        ann_file='data/lvis_v0.5/annotations/lvis_v0.5_train.json',
        bin_edges=(10, 100, 1000)))
model = dict(
    # every frozen weight comes from load_from: no ImageNet download
    backbone=dict(init_cfg=None),
    roi_head=dict(
        # lists are replaced, not merged: the baseline's stages with BAGS
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
                loss_cls=bags_loss,
                loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in stage_stds
        ]))
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
