_base_ = './mask-rcnn_r50_fpn_eql_2x_lvis-v0.5.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
