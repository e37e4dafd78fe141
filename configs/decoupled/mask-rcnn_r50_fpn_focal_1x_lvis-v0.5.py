# Softmax focal loss (gamma = 2, no alpha) over the 1,230 + 1 classes, whole
# model: Mask R-CNN R50-FPN 1x on LVIS v0.5 trained like the CE baseline.
_base_ = '../lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                num_classes=1230))))
