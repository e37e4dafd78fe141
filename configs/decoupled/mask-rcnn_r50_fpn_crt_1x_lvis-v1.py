# cRT (classifier re-training; Kang et al., "Decoupling Representation and
# Classifier for Long-Tailed Recognition", ICLR 2020) for Mask R-CNN R50-FPN
# on LVIS v1, the EQLv2 repo's recipe (configs/decouple/crt_r50_8x2_1x.py):
# stage 2 starts from the softmax-CE baseline
# (configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py), trains only fc_cls, which
# is re-initialised (decoupled.reinit drops it from `load_from`), everything
# else frozen incl. fc_reg, mask head and BN statistics.
# Class-aware sampling draws 75000 x 16 images -- the original's single
# "epoch" -- read in order by DefaultSampler(shuffle=False): 75k iterations at
# 8 GPUs x 2 images, lr 0.02 with steps at 50k and 70k iterations, linear
# warm-up 500 iterations. mmlt runs it as an IterBasedTrainLoop (exact
# resume mid-run; an epoch loop would replay the 75k-iteration epoch) over
# one pass of the class-aware table; with fewer GPUs the table restarts with
# the next (seed, epoch) draw when it is used up.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    '../_base_/decoupled/cls_only.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
decoupled = dict(reinit=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'])
# every frozen weight comes from load_from: skip the ImageNet download;
# frozen_stages=4 as the original (the runner freezes them anyway)
model = dict(backbone=dict(init_cfg=None, frozen_stages=4))

max_iters = 75000
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='ClassAwareDataset',
        num_samples=max_iters * 16,
        seed=0,
        dataset={{_base_.train_dataloader.dataset}}))
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[50000, 70000],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=5000,
        max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    # a new (seed, epoch) table if the loader restarts
    dict(type='DatasetEpochHook'),
]
