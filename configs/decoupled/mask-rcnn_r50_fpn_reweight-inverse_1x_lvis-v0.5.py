# Re-weighting, whole model: the BAGS repo's "Re-weight" (train part: all)
# baseline
# (FishYuLi/BalancedGroupSoftmax@90e04fd8cc configs/transferred/faster_rcnn_r50_fpn_1x_lvis_reweightall.py; reported 23.48 bbox AP,
# Faster R50, LVIS v0.5): every parameter fine-tuned from the softmax-CE
# stage 1 (configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py) with the softmax
# CE of every RoI weighted by w[label]: w_c = (1/n_c) / mean_fg(1/n), clipped
# to [0.1, 5], background 1 (BAGS's cls_weight.pt), n_c = training instance
# counts from mmlt's class statistics of the train annotations. The
# BAGS stage-2 schedule (lr 0.01 for 8 GPUs x 2 images, 12 epochs,
# steps 8/11, warm-up 500 iterations from lr/3, grad clip 35), single scale
# 1333x800, test score_thr 0.0 / 300 detections, evaluated after the last
# epoch.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py',
    '../_base_/decoupled/bags_1x.py',
    '../_base_/decoupled/bags_transferred.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v0.5/epoch_12.pth'
# every weight comes from load_from: skip the ImageNet download
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='ClassWeightedCrossEntropyLoss',
                weighting='inverse',
                num_classes=1230,
                ann_file='data/lvis_v0.5/annotations/lvis_v0.5_train.json'))),
    test_cfg=dict(rcnn=dict(score_thr={{_base_.transferred_score_thr}})))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.transferred_train_pipeline}}))
train_cfg = dict(
    max_epochs={{_base_.bags_max_epochs}},
    val_interval={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
