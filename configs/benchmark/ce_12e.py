# Benchmark control row: CE trained for 12 epochs instead of 5 (2,220
# iterations, the number an RFS epoch count gives: RFS at t = 0.15 repeats
# images so that one epoch is 446 iterations instead of 185, and 5 RFS
# epochs are 2,230). Separates RFS's sampling from its longer training.
# lr step at epoch 10 (~80 % of the schedule, as the 5-epoch step at 4).
_base_ = '../toy/mask-rcnn_r18_fpn_toy_ce.py'
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[10],
        gamma=0.1)
]
benchmark = dict(
    name='CE, 12 epochs (RFS-length control)', model='Mask R-CNN', order=5,
    baseline='ce')
