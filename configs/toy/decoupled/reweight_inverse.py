# Re-weighting, classifier only (stage 2 from the toy CE checkpoint, fc_cls
# fine-tuned, not re-initialised): softmax CE with weight w[label],
# w_c = (1/n_c) / mean_fg(1/n) clipped to [0.1, 5], background 1 (BAGS's
# cls_weight.pt); n_c = training instance counts from mmlt's class statistics.
_base_ = './stage2_base.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='ClassWeightedCrossEntropyLoss',
                weighting='inverse',
                num_classes=60,
                ann_file='data/toy_lvis/annotations/lvis_v1_train.json'))))
