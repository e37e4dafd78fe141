# Softmax CE baseline: Cascade Mask R-CNN X101-64x4d-FPN, 1x, LVIS v0.5 (the
# stage-1 model of the BAGS Cascade config). The recipe of
# cascade-mask-rcnn_x101-64x4d_fpn_imagenet-init_1x_lvis-v0.5.py, started
# like the BAGS baseline (configs/baselines/cascade_rcnn_x101_64x4d_fpn_1x_
# lvis.py, reported 27.16 bbox AP on v0.5 val, from the COCO Cascade R-CNN
# X101 2x) from a COCO-trained mmdet detector: Cascade Mask R-CNN X101-64x4d
# 20e (the box-only original has no mask branch). CheckpointInitHook loads
# it and re-initialises the classifiers of the three stages (fc_cls, 81 ->
# 1231) and the mask predictors of the three stages (conv_logits, 80 ->
# 1230); the box regressors are class-agnostic and load. Anything else that
# does not fit is an error.
_base_ = './cascade-mask-rcnn_x101-64x4d_fpn_imagenet-init_1x_lvis-v0.5.py'
coco_checkpoint = (
    'https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/'
    'cascade_mask_rcnn_x101_64x4d_fpn_20e_coco/'
    'cascade_mask_rcnn_x101_64x4d_fpn_20e_coco_20200512_161033-bdb5126a.pth')
# every weight comes from the COCO checkpoint: no ImageNet download
model = dict(backbone=dict(init_cfg=None))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(
        type='CheckpointInitHook',
        checkpoint=coco_checkpoint,
        reinit=[
            r'roi_head\.bbox_head\.\d+\.fc_cls\.',
            r'roi_head\.mask_head\.\d+\.conv_logits\.'
        ])
]
