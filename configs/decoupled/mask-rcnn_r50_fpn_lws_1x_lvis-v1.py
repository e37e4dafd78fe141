# LWS (learnable weight scaling; Kang et al. ICLR 2020, as in the eqlv2
# repo's configs/decouple/) for Mask R-CNN R50-FPN on LVIS v1: the cRT recipe
# (mask-rcnn_r50_fpn_crt_1x_lvis-v1.py: same stage-1 checkpoint, class-aware
# sampling, 75k iterations x 16 images, lr 0.02, steps at 50k and 70k), but
# fc_cls is kept: it becomes LWSLinear (W_eff = s * W, bias not scaled), the
# stage-1 W and b load unchanged and stay frozen, s starts at 1 and is the
# only trained tensor. Reported (eqlv2 README, v1 R50): 17.0 mask AP.
_base_ = './mask-rcnn_r50_fpn_crt_1x_lvis-v1.py'
model = dict(
    roi_head=dict(bbox_head=dict(cls_predictor_cfg=dict(type='LWSLinear'))))
decoupled = dict(
    _delete_=True,
    trainable=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.scales$'],
    reinit=[])
