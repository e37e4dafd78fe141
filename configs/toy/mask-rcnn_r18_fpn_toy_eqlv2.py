# EQLv2 on the toy set: the demo's CE config with the C+1-channel sigmoid
# EQLv2 classifier (gamma 12, mu 0.8, alpha 4) and prior-0.001 bias init.
_base_ = [
    './mask-rcnn_r18_fpn_toy_ce.py', '../_base_/models/sigmoid_cls_init.py'
]
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLossV2',
                num_classes={{_base_.num_classes}}),
            init_cfg={{_base_.sigmoid_prior_init}})))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='LossStateLoggerHook', interval=20)
]
