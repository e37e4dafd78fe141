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
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)

model = dict(
    roi_head=dict(bbox_head=dict(num_classes=500)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))

train_dataloader = dict(
    batch_size=2, sampler=dict(type='InfiniteSampler', shuffle=True))

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=180000, val_interval=180000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=180000,
        by_epoch=False,
        milestones=[120000, 160000],
        gamma=0.1)
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=20000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)

custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
