# Re-weighting of the whole model: the toy CE Mask R-CNN trained from scratch
# with ClassWeightedCrossEntropyLoss (inverse instance frequency, clipped to
# [0.1, 5], background 1; BAGS's cls_weight.pt) instead of the plain CE.
_base_ = './mask-rcnn_r18_fpn_toy_ce.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='ClassWeightedCrossEntropyLoss',
                weighting='inverse',
                num_classes=60,
                ann_file='data/toy_lvis/annotations/lvis_v1_train.json'))))
