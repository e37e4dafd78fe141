# The Distribution-Balanced loss recipe (configs/{coco,voc}/
# LT_resnet50_pfc_DB.py of wutong16/DistributionBalancedLoss@14460d0acd):
# ImageNet ResNet-50 (stage 1 frozen, BN statistics frozen) -> global
# average pooling -> PFC neck (fc 2048->256, BN, dropout 0.5) -> fc;
# 224 x 224, batch 32, SGD lr 0.02 (momentum 0.9, wd 1e-4), grad clip 35,
# linear warm-up 500 iterations from lr/3, 8 epochs with steps at 5 and 7,
# seed 1 (the default of the original's tools/train.py).
# The original trains on one GPU x 32 images. Here the batch is per
# process: 8 GPUs x 4 images (train_dataloader.batch_size=4 in the dataset
# bases) with the BatchNorm layers converted to SyncBN (sync_bn below), so
# the neck's BatchNorm still normalises over the 32 images of a step and
# an epoch, the warm-up and the steps are the original's iterations. On
# one GPU: --cfg-options train_dataloader.batch_size=32 (SyncBN is only
# used in distributed runs). The backbone's BatchNorm stays in eval mode
# (norm_eval), so only the neck's is synchronised.
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
default_scope = 'mmdet'

model = dict(
    type='MultiLabelClassifier',
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        # torchvision's ImageNet weights (mmlt resolves the name without
        # torchvision: $TORCH_HOME/hub/checkpoints/resnet50-0676ba61.pth)
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(type='PFC', in_channels=2048, out_channels=256, dropout=0.5),
    in_channels=256)

max_epochs = 8
# evaluation every 5 epochs: the original's evaluation=dict(interval=5)
# (used there by distributed runs with --validate; its README trains
# without evaluation and tests epoch_8.pth afterwards)
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0 / 3,
        by_epoch=False,
        begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[5, 7],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=8, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='RNGStateHook')]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1)  # the original's tools/train.py --seed default
# 8 GPUs x 4 images = the original's 1 GPU x 32
auto_scale_lr = dict(enable=False, base_batch_size=32)
# mmengine converts every BatchNorm to torch's SyncBatchNorm when the run
# is distributed (the PFC neck's sees the whole batch of 32)
sync_bn = 'torch'
