# Re-weighting, classifier only: stage 2 from the LVIS v1 softmax CE Mask
# R-CNN R50-FPN 1x, only fc_cls trained (not re-initialised) with the
# inverse-frequency weighted CE (see ..._reweight-inverse_1x_lvis-v1.py), on
# the BAGS stage-2 schedule (lr 0.01, 12 epochs, steps 8/11, warm-up 500
# from lr/3, grad clip 35), plain sampling.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    '../_base_/decoupled/cls_only.py',
    '../_base_/decoupled/bags_1x.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
# every frozen weight comes from load_from: skip the ImageNet download
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='ClassWeightedCrossEntropyLoss',
                weighting='inverse',
                num_classes=1203,
                ann_file='data/lvis_v1/annotations/lvis_v1_train.json'))))
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
