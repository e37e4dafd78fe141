# The EQLv2 OpenImages schedule: SGD lr 0.02 for 8 x 2 images, 180k
# iterations (the eqlv2 recipe's MaxIterationDataset of 180k x 16 samples =
# an infinite sampler, set by the dataset config), steps at 120k and 160k,
# linear warm-up 500 iterations. Checkpointing and logging by iteration are
# set by the leaf configs (default_hooks, log_processor belong to the
# runtime base).
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
