# EFL RetinaNet, ResNet-101 backbone (LVIS v1).
_base_ = './retinanet_r50_fpn_efl_rfs-1e-3_2x_lvis-v1.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
