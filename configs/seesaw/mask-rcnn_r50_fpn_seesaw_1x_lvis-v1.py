# mmdet's own Seesaw loss (Wang et al., CVPR 2021) on the same model and
# schedule as the EQL/EQLv2 configs, for comparison: normalised-linear
# classifier (temperature 20), p = 0.8, q = 2.0. mmdet's recipe
# (configs/seesaw_loss/mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1.py,
# 25.0 mask AP / 25.6 bbox AP) trains 2x (24 epochs); this one trains 1x.
_base_ = '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(
                _delete_=True,
                type='SeesawLoss',
                p=0.8,
                q=2.0,
                num_classes=1203,
                loss_weight=1.0))))
