# Softmax CE baseline: Faster R-CNN R50-FPN, 1x, LVIS v0.5 (1,230 classes,
# boxes only); the stage-1 model of the BAGS v0.5 Faster R-CNN config. The
# BAGS baseline (Li et al. CVPR 2020, configs/baselines/
# faster_rcnn_r50_fpn_1x_lvis.py, reported 20.98 bbox AP on v0.5 val): the
# recipe of faster-rcnn_r50_fpn_imagenet-init_1x_lvis-v0.5.py, started like
# the original from the COCO-trained mmdet Faster R-CNN R50-FPN 2x. The
# COCO checkpoint is loaded by CheckpointInitHook: the classifier (fc_cls,
# 81 -> 1231 outputs) and the class-specific box regressor (fc_reg, 320 ->
# 4920) are re-initialised and named in the log; any other key that does
# not fit is an error. The ImageNet start is the imagenet-init config.
_base_ = './faster-rcnn_r50_fpn_imagenet-init_1x_lvis-v0.5.py'
coco_checkpoint = (
    'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
    'faster_rcnn_r50_fpn_2x_coco/'
    'faster_rcnn_r50_fpn_2x_coco_bbox_mAP-0.384_20200504_210434-a5d8aa15.pth')
# every weight comes from the COCO checkpoint: no ImageNet download
model = dict(backbone=dict(init_cfg=None))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(
        type='CheckpointInitHook',
        checkpoint=coco_checkpoint,
        reinit=[r'roi_head\.bbox_head\.fc_(cls|reg)\.'])
]
