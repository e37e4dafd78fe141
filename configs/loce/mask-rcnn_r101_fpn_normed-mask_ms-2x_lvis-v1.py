# LOCE stage 1, ResNet-101 backbone (LVIS v1; the original
# configs/loce/mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis_v1.py): the R50
# recipe with torchvision's ResNet-101. (The original's `_base_` names a
# file its repository lacks, mask_rcnn_r50_fpn_mstrain_2x_lvis_v1.py; its
# name, the README and stage 2 make it the R50 normed-mask stage 1.)
_base_ = './mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
