# LOCE stage 2 on the toy set, EBL + MFS (Feng et al., ICCV 2021), as the
# original stage 2 (loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py):
# LoceRoIHead, Equilibrium Loss (alpha 0.9, background score 0.01),
# memory-augmented feature sampling (8 classes x 4 features per iteration),
# the memory bank filled by the init hook before training. Checkpoint,
# trainable parameters and schedule: ce.py. Toy scale: queue 32 per class
# (the init hook fills 2 images x 16 jittered boxes per class and rank).
_base_ = './ce.py'
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
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    # fills the memory bank (not checkpointed) before training, also on
    # resume; warms up the mean score on a fresh start
    dict(type='MemoryBankInitHook'),
    dict(type='LossStateLoggerHook', interval=20),
]
