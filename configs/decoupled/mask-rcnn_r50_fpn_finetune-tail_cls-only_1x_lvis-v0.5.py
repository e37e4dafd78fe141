# Fine-tune on tail, classifier only: stage 2 from the LVIS v0.5 softmax CE
# Mask R-CNN R50-FPN 1x, fc_cls fine-tuned with the plain CE on the training
# images that contain at least one rare or common instance (ClassSubsetDataset;
# groups = the annotation file's LVIS frequency field; the other annotations
# of those images are kept), BAGS stage-2 schedule (lr 0.01, 12 epochs).
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py',
    '../_base_/decoupled/cls_only.py',
    '../_base_/decoupled/bags_1x.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v0.5/epoch_12.pth'
# every frozen weight comes from load_from: skip the ImageNet download
model = dict(backbone=dict(init_cfg=None))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassSubsetDataset',
        groups=('r', 'c'),
        dataset={{_base_.train_dataloader.dataset}}))
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
