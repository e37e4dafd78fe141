# EQLv2 (Tan et al., CVPR 2021) on LVIS v1: Mask R-CNN R50-FPN 1x, 8x2 images,
# lr 0.02, MS train 640-800, no RFS (the original recipe). The classifier is
# C+1 sigmoid channels (classes + objectness), scored sigma(z_j)(1 -
# sigma(z_obj)) at test time, and initialised with prior 0.001. Reported:
# 23.7 mask AP (APr 14.9 / APc 22.8 / APf 28.6), bbox 24.2.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    '../_base_/models/sigmoid_cls_init.py'
]

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True, type='EqualizationLossV2', num_classes=1203),
            init_cfg={{_base_.sigmoid_prior_init}})))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='LossStateLoggerHook', interval=50)
]
