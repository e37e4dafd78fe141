# LOCE ablation on the toy set: memory-augmented feature sampling only, with
# softmax CE; the class draw (P(c) ∝ 1/m_c) reads a mean-score tracker owned
# by the RoI head (saved as roi_head.tracker.mean_score). Everything else
# as ebl_mfs.py.
_base_ = './ebl_mfs.py'
model = dict(
    roi_head=dict(
        tracker=dict(alpha=0.9, bg_score=0.01, init_score=0.01),
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='CrossEntropyLoss',
                use_sigmoid=False,
                loss_weight=1.0))))
