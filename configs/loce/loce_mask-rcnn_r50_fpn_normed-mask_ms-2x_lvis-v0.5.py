# LOCE stage 2 (Feng et al., "Exploring Classification Equilibrium in
# Long-Tailed Object Detection", ICCV 2021), Mask R-CNN R50-FPN, LVIS v0.5
# (1,230 classes); reported 28.2 box AP / 28.4 mask AP. From the stage-1 checkpoint
# (mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v0.5.py, epoch 24): LoceRoIHead
# with the Equilibrium Loss (alpha 0.9, background score 0.01) and
# memory-augmented feature sampling; recipe in ../_base_/loce/stage2.py.
_base_ = [
    './mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v0.5.py',
    '../_base_/loce/stage2.py',
]
load_from = ('work_dirs/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v0.5/'
             'epoch_24.pth')
model = dict(
    # every frozen weight comes from load_from: skip the ImageNet download
    backbone=dict(init_cfg=None),
    roi_head=dict(
        type='LoceRoIHead',
        mfs={{_base_.loce_mfs}},
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EquilibriumLoss',
                num_classes=1230,
                alpha=0.9,
                bg_score=0.01,
                init_score=0.01,
                loss_weight=1.0))))
train_cfg = dict(
    max_epochs={{_base_.loce_max_epochs}},
    val_interval={{_base_.loce_max_epochs}})
param_scheduler = {{_base_.loce_param_scheduler}}
optim_wrapper = dict(optimizer=dict(lr=0.02))
custom_hooks = {{_base_.loce_custom_hooks}}
