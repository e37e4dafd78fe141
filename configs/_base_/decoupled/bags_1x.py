# Stage-2 schedule of Balanced Group Softmax (Li et al. CVPR 2020, the
# original configs/bags/*.py): SGD lr 0.01 for 16 images (8 GPUs x 2),
# momentum 0.9, weight decay 1e-4, 12 epochs, steps at 8 and 11, linear
# warm-up over 500 iterations from lr/3, gradient clipping at 35.
# Leaf configs take the values by reference (these names clash with nothing
# a detector config defines, so this file can sit beside one in `_base_`):
#   train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
#   param_scheduler = {{_base_.bags_param_scheduler}}
#   optim_wrapper = {{_base_.bags_optim_wrapper}}
bags_max_epochs = 12
bags_param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0 / 3,
        by_epoch=False,
        begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
bags_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
