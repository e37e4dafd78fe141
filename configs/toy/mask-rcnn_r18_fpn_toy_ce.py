# CPU demo: a small Mask R-CNN (ResNet-18 at half width, 64-channel FPN and
# heads, GroupNorm) trained from scratch with softmax cross-entropy on the
# embedded long-tailed toy LVIS set: 2 processes x 2 images (gloo on CPU,
# ~1.5x the throughput of one 2-thread process), 5 epochs, ~7 min on 2 cores.
# Methods of later issues inherit this config and change only their
# loss/head/sampler keys.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/toy_lvis_instance.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)

num_classes = 60
feat = 64
norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=feat),
    rpn_head=dict(
        in_channels=feat,
        feat_channels=feat,
        # objects are 14-100 px: anchors 16..256 px instead of 32..512
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=feat),
        bbox_head=dict(
            in_channels=feat, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=feat),
        mask_head=dict(
            num_convs=2,
            in_channels=feat,
            conv_out_channels=feat,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        # LVIS protocol's low threshold; toy images hold <= ~12 objects, so
        # 100 detections per image (LVIS allows 300) lose nothing and make
        # CPU mask inference 3x cheaper
        rcnn=dict(score_thr=0.0001, max_per_img=100)))

train_dataloader = dict(batch_size=2)
max_epochs = 5
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[4],
        gamma=0.1)
]
# lr 0.02 for 4 images: 0.04 trains CE fine but makes the from-scratch
# sigmoid classifiers (EQL, EQLv2) diverge during warm-up, and all toy
# methods share this schedule.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))

custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
