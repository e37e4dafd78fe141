# Softmax focal loss (gamma = 2, no alpha) over the C + 1 classes, classifier
# only: fc_cls fine-tuned from the toy CE checkpoint.
_base_ = './stage2_base.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                num_classes=60))))
