# mmdet's Seesaw loss on the toy set (normalised-linear classifier,
# temperature 20, p = 0.8, q = 2.0), for comparison with EQL/EQLv2.
_base_ = './mask-rcnn_r18_fpn_toy_ce.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(
                _delete_=True,
                type='SeesawLoss',
                p=0.8,
                q=2.0,
                num_classes={{_base_.num_classes}},
                loss_weight=1.0))))
