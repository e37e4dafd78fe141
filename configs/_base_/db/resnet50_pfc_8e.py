# The Distribution-Balanced loss recipe (configs/{coco,voc}/
# LT_resnet50_pfc_DB.py of the original): ImageNet ResNet-50 (stage 1
# frozen) -> global average pooling -> PFC neck (fc 2048->256, BN, dropout
# 0.5) -> fc; 224 x 224, batch 32, SGD lr 0.02 (momentum 0.9, wd 1e-4),
# grad clip 35, linear warm-up 500 iterations from lr/3, 8 epochs with
# steps at 5 and 7. The original trains on one GPU; here batch_size is per
# process: with N GPUs pass train_dataloader.batch_size=32/N to keep it,
# or --auto-scale-lr to scale the lr to the total batch.
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
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=32)
