# EQL on LVIS v0.5 (1,230 classes, lambda = 0.00177 -> 915 tail classes), Mask
# R-CNN R50-FPN. Reported (detectron2 EQL, v0.5): baseline 21.2 (APr 3.2) ->
# EQL 24.0 (9.4) -> EQL + RFS(t=0.0005) 26.1 (17.2).
_base_ = '../lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py'

# sigmoid classifier with prior 0.001 (explicit init_cfg replaces the head's
# default list, so all of it is here)
sigmoid_prior_init = [
    dict(
        type='Normal', std=0.01, bias_prob=0.001,
        override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
    dict(
        type='Xavier',
        distribution='uniform',
        override=[
            dict(name='shared_fcs'),
            dict(name='cls_fcs'),
            dict(name='reg_fcs')
        ])
]
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLoss',
                version='v0.5',  # lambda = 0.00177
                num_classes=1230,
                ann_file='data/lvis_v0.5/annotations/lvis_v0.5_train.json'),
            init_cfg=sigmoid_prior_init)))
