# Effective-number re-weighting (beta = 0.999), classifier only; schedule as
# ..._reweight-inverse_cls-only_1x_lvis-v0.5.py.
_base_ = './mask-rcnn_r50_fpn_reweight-inverse_cls-only_1x_lvis-v0.5.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(loss_cls=dict(weighting='effective', beta=0.999))))
