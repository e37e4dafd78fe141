# CE Mask R-CNN R50-FPN on LVIS v1, 2x schedule (24 epochs, steps at 16 and 22).
_base_ = './mask-rcnn_r50_fpn_1x_lvis-v1.py'
max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1)
]
