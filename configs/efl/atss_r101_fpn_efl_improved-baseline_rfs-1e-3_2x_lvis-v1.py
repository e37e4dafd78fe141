# EFL improved baseline, ResNet-101 (the original reports 29.2 AP, APr 23.5
# on LVIS v1).
_base_ = './atss_r50_fpn_efl_improved-baseline_rfs-1e-3_2x_lvis-v1.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
