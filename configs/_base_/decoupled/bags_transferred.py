# Data and test settings of the BAGS repo's "transferred" baselines
# (FishYuLi/BalancedGroupSoftmax@90e04fd8cc configs/transferred/*.py:
# re-weighting, focal loss, fine-tune on tail; and its tools/test_lvis*.py
# for tau-norm and NCM): single-scale training at 1333x800 with flip 0.5,
# test score threshold 0.0 with 300 detections, and no evaluation during
# training (the README trains without --validate and tests afterwards; mmlt
# evaluates once, after the last epoch).
# Leaf configs take them by reference (names clash with nothing a detector
# config defines):
#   train_dataloader = dict(dataset=dict(
#       pipeline={{_base_.transferred_train_pipeline}}))
#   model = dict(test_cfg=dict(rcnn=dict(
#       score_thr={{_base_.transferred_score_thr}})))
transferred_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
transferred_score_thr = 0.0
