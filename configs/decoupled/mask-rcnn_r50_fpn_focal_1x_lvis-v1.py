# Softmax focal loss (gamma = 2, no alpha), whole model: the BAGS repo's
# "Focal loss" (train part: all) baseline (LVIS v1 port of the v0.5 recipe)
# (FishYuLi/BalancedGroupSoftmax@90e04fd8cc configs/transferred/faster_rcnn_r50_fpn_1x_lvis_focalloss_all.py; reported 11.12 bbox AP,
# Faster R50, LVIS v0.5): every parameter fine-tuned from the softmax-CE
# stage 1 (configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py) on the
# BAGS stage-2 schedule (lr 0.01 for 8 GPUs x 2 images, 12 epochs,
# steps 8/11, warm-up 500 iterations from lr/3, grad clip 35), single scale
# 1333x800, test score_thr 0.0 / 300 detections, evaluated after the last
# epoch.
# The original's loss is mmdet v1's sigmoid focal loss (alpha 0.25); mmdet
# 3's BBoxHead scores with a softmax over C + 1, so the softmax focal loss
# stands in.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    '../_base_/decoupled/bags_1x.py',
    '../_base_/decoupled/bags_transferred.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
# every weight comes from load_from: skip the ImageNet download
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                num_classes=1203))),
    test_cfg=dict(rcnn=dict(score_thr={{_base_.transferred_score_thr}})))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.transferred_train_pipeline}}))
train_cfg = dict(
    max_epochs={{_base_.bags_max_epochs}},
    val_interval={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
