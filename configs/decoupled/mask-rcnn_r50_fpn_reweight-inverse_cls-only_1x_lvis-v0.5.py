# Re-weighting, classifier only: stage 2 from the LVIS v0.5 softmax CE Mask
# R-CNN R50-FPN 1x, only fc_cls trained (not re-initialised) with the
# inverse-frequency weighted CE (see ..._reweight-inverse_1x_lvis-v0.5.py), on
# the BAGS stage-2 schedule (lr 0.01, 12 epochs, steps 8/11, warm-up 500
# from lr/3, grad clip 35), plain sampling.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py',
    '../_base_/decoupled/cls_only.py',
    '../_base_/decoupled/bags_1x.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v0.5/epoch_12.pth'
# every frozen weight comes from load_from: skip the ImageNet download
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='ClassWeightedCrossEntropyLoss',
                weighting='inverse',
                num_classes=1230,
                ann_file='data/lvis_v0.5/annotations/lvis_v0.5_train.json'))))
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
