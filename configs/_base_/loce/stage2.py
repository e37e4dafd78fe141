# LOCE stage 2 recipe (Feng et al., ICCV 2021; the original
# loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py), the parts that
# do not depend on the dataset. Leaf configs put this file next to their
# stage-1 config in `_base_` and take the prefixed values by reference
# (names that clash with nothing a detector config defines):
#   model = dict(roi_head=dict(type='LoceRoIHead', mfs={{_base_.loce_mfs}},
#                bbox_head=dict(loss_cls=dict(_delete_=True,
#                    type='EquilibriumLoss', num_classes=C, ...))))
#   train_cfg = dict(max_epochs={{_base_.loce_max_epochs}}, ...)
#   param_scheduler = {{_base_.loce_param_scheduler}}
#   custom_hooks = {{_base_.loce_custom_hooks}}
# Memory-augmented feature sampling: queue 80 per class, 8 classes x 4
# features per iteration, 16 jittered boxes per GT; bank in host RAM as the
# original, fp16 (2.42 GB per process at LVIS v1; fp32 4.83 GB).
loce_mfs = dict(
    queue_size=80,
    sampled_num_classes=8,
    sampled_num_features=4,
    num_jitter=16,
    device='cpu',
    dtype='float16')
# selectp=1 of the original: fc_cls, fc_reg, the RPN and the whole mask head
# train; backbone, neck and the box head's shared FCs are frozen.
runner_type = 'DecoupledRunner'
decoupled = dict(
    trainable=[
        r'roi_head\.bbox_head\.(\d+\.)?fc_(cls|reg)\.',
        r'rpn_head\.',
        r'roi_head\.mask_head\.',
    ],
    reinit=[])
# 6 epochs, steps 3 and 5, lr 0.02 for 8x2 images, linear warm-up 500
loce_max_epochs = 6
loce_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=6,
        by_epoch=True,
        milestones=[3, 5],
        gamma=0.1)
]
loce_custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    # fills the memory bank (not checkpointed) before training, also on
    # resume; warms up the mean score on a fresh start (5 images per class
    # and process = 80 features per class)
    dict(type='MemoryBankInitHook'),
    dict(type='LossStateLoggerHook'),
]
