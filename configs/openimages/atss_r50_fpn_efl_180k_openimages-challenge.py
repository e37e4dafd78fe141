# EFL (Li et al., CVPR 2022) on OpenImages Challenge 2019 (500 classes;
# reported R50 51.5 mAP): the improved-baseline detector
# (../_base_/models/atss_r50_fpn_efl.py, EFL with s = 8) on the OpenImages
# data and 180k-iteration schedule of the EQLv2 recipe (single scale
# 1333 x 800, lr 0.02 for 8 x 2 images, steps 120k / 160k), gradient
# clipping 35, GroupedAPMetric (mAP, mAP0 = rarest ... mAP4).
_base_ = [
    '../_base_/models/atss_r50_fpn_efl.py',
    '../_base_/datasets/openimages_challenge_coco.py',
    '../_base_/schedules/iter_180k.py', 'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
model = dict(bbox_head=dict(num_classes=500, loss_cls=dict(num_classes=500)))
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=20000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='LossStateLoggerHook', interval=50)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
