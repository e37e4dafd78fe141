# EQL + RFS (t = 0.0005), Mask R-CNN R101-FPN, LVIS v0.5.
_base_ = './mask-rcnn_r50_fpn_eql_rfs-5e-4_2x_lvis-v0.5.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
