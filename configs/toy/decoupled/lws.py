# LWS (learnable weight scaling, Kang et al. ICLR 2020; eqlv2 repo
# `LWSLinear`) on the toy set: cRT's class-aware sampling and schedule
# (crt.py: one epoch = the 737 filtered training images, 4 epochs, lr 0.01),
# but the stage-1 classifier is kept, frozen, and only one scale per class
# row is trained: fc_cls becomes LWSLinear, W_eff = s * W with s = 1 at the
# start (the stage-1 W and b load unchanged), the bias is not scaled.
_base_ = './crt.py'
model = dict(
    roi_head=dict(bbox_head=dict(cls_predictor_cfg=dict(type='LWSLinear'))))
decoupled = dict(
    _delete_=True,
    trainable=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.scales$'],
    reinit=[])
