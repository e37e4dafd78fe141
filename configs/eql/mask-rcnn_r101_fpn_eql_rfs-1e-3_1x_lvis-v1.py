# EQL + RFS (t = 0.001), Mask R-CNN R101-FPN 1x, LVIS v1.
_base_ = './mask-rcnn_r50_fpn_eql_rfs-1e-3_1x_lvis-v1.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
