# Softmax focal loss (gamma = 2) over the C + 1 classes for the whole toy
# Mask R-CNN, trained from scratch like the CE baseline.
_base_ = './mask-rcnn_r18_fpn_toy_ce.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                num_classes=60))))
