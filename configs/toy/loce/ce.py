# LOCE toy stage 2, control: the schedule and trainable parameters of LOCE's
# stage 2 with mmdet's StandardRoIHead and plain softmax CE -- what the extra
# epochs alone give. The LOCE variants (ebl_mfs.py, ebl.py, mfs.py) inherit
# this and change only the RoI head, its loss and the hooks.
# From the stage-1 checkpoint that tools/benchmark/run_loce_toy.sh trains
# (stage1.py) and links to `load_from`; fc_cls, fc_reg, RPN and mask head
# train (LOCE's selectp=1; runner_type and decoupled from
# ../../_base_/loce/stage2.py); 4 epochs at the stage-1 lr 0.02 with a step
# at 3 (the original: 6 epochs, steps [3, 5]).
_base_ = ['./stage1.py', '../../_base_/loce/stage2.py']
load_from = 'work_dirs/toy_loce/stage1.pth'
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
