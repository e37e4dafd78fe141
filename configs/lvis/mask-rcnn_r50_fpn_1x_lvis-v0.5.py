# Softmax CE baseline: Mask R-CNN R50-FPN, 1x (12 epochs, steps 8 and 11),
# LVIS v0.5; the stage-1 model of the BAGS v0.5 Mask R-CNN config (BAGS's
# baselines are 1x).
_base_ = './mask-rcnn_r50_fpn_2x_lvis-v0.5.py'
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
