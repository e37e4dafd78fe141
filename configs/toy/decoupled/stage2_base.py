# Toy decoupled stage 2: starts from the stage-1 CE checkpoint that
# tools/benchmark/run_decoupled_toy.sh trains (configs/toy/
# mask-rcnn_r18_fpn_toy_ce.py, 5 epochs) and links to `load_from` below;
# trains only fc_cls for 4 epochs at lr 0.01 (step at 3), the toy analogue
# of the BAGS/cRT recipes (lr 0.01, 12 epochs, steps [8, 11]).
_base_ = [
    '../mask-rcnn_r18_fpn_toy_ce.py',
    '../../_base_/decoupled/cls_only.py',
]
load_from = 'work_dirs/toy_decoupled/stage1.pth'
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[3],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
