# Re-weighting, whole model: Mask R-CNN R50-FPN 1x on LVIS v0.5 trained from
# scratch (ImageNet backbone) like the CE baseline, with the softmax CE of
# every RoI weighted by w[label]: w_c = (1/n_c) / mean_fg(1/n), clipped to
# [0.1, 5], background 1 (BAGS's cls_weight.pt), n_c = training instance
# counts from mmlt's class statistics of the train annotations.
_base_ = '../lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='ClassWeightedCrossEntropyLoss',
                weighting='inverse',
                num_classes=1230,
                ann_file='data/lvis_v0.5/annotations/lvis_v0.5_train.json'))))
