# Softmax CE baseline for the OpenImages long-tail report (EQLv2 README,
# R50 Faster R-CNN 43.1 mAP, rarest group 26.3): Faster R-CNN R50-FPN on the
# 500-class OpenImages Challenge 2019 set, 8 GPUs x 2 images, single scale
# 1333x800, SGD lr 0.02, 180k iterations with steps at 120k / 160k (the
# eqlv2 recipe's MaxIterationDataset of 180k x 16 samples = an infinite
# sampler here), uniform sampling, 300 detections/image at score >= 1e-4.
# Evaluated with GroupedAPMetric (mAP, mAP0 = rarest ... mAP4).
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/openimages_challenge_coco.py',
    '../_base_/schedules/iter_180k.py', 'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)

model = dict(
    roi_head=dict(bbox_head=dict(num_classes=500)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))

default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=20000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)

custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
