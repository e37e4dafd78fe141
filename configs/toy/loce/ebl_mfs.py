# LOCE stage 2 on the toy set, EBL + MFS (Feng et al., ICCV 2021): from the
# stage-1 checkpoint that tools/benchmark/run_loce_toy.sh trains
# (stage1.py) and links to `load_from`. As the original stage 2
# (loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py): LoceRoIHead,
# Equilibrium Loss (alpha 0.9, background score 0.01), memory-augmented
# feature sampling (8 classes x 4 features per iteration), fc_cls, fc_reg,
# RPN and mask head trainable (selectp=1; runner_type and decoupled from
# ../../_base_/loce/stage2.py), the memory bank filled by the
# init hook before training. Toy scale: queue 32 per class (the init hook
# fills 2 images x 16 jittered boxes per class and rank), 4 epochs at the
# stage-1 lr 0.02 with a step at 3 (original: 6 epochs, steps [3, 5]).
_base_ = ['./stage1.py', '../../_base_/loce/stage2.py']
load_from = 'work_dirs/toy_loce/stage1.pth'
model = dict(
    roi_head=dict(
        type='LoceRoIHead',
        mfs=dict(
            queue_size=32,
            sampled_num_classes=8,
            sampled_num_features=4,
            num_jitter=16,
            device='cpu',
            dtype='float16'),
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EquilibriumLoss',
                num_classes={{_base_.num_classes}},
                alpha=0.9,
                bg_score=0.01,
                init_score=0.01,
                loss_weight=1.0))))

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
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    # fills the memory bank (not checkpointed) before training, also on
    # resume; warms up the mean score on a fresh start
    dict(type='MemoryBankInitHook'),
    dict(type='LossStateLoggerHook', interval=20),
]
