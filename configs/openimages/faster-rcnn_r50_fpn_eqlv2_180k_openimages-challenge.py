# EQLv2 (Tan et al., CVPR 2021) on OpenImages Challenge 2019 (500 classes):
# the CE baseline's Faster R-CNN R50-FPN and 180k-iteration schedule with the
# classifier replaced by EQLv2 — C+1 sigmoid channels (classes + objectness),
# prior-0.001 init, scored sigma(z_j)(1 - sigma(z_obj)) at test time.
# num_classes=500 must be given to the loss (the released eqlv2 OpenImages
# config leaves the LVIS default 1203). Reported (eqlv2 README): 52.6 mAP,
# rarest group 48.6.
_base_ = [
    './faster-rcnn_r50_fpn_180k_openimages-challenge.py',
    '../_base_/models/sigmoid_cls_init.py'
]

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True, type='EqualizationLossV2', num_classes=500),
            init_cfg={{_base_.sigmoid_prior_init}})))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='LossStateLoggerHook', interval=50)
]
