# LOCE stage 1, ResNet-101 backbone (LVIS v1).
_base_ = './mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
