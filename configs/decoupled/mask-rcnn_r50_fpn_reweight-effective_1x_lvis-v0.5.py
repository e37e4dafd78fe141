# Re-weighting by the effective number of samples (Cui et al. CVPR 2019),
# whole model: w_c = (1 - beta) / (1 - beta^n_c), beta = 0.999,
# mean-normalised over the foreground, clipped to [0.1, 5], background 1
# (BAGS's cls_weight_bours.pt). An mmlt variant: the BAGS repo trains these
# weights on the classifier only (..._reweight-effective_cls-only); the
# recipe is that of ..._reweight-inverse_1x_lvis-v0.5.py (the BAGS "Re-weight",
# all parameters fine-tuned from stage 1).
_base_ = './mask-rcnn_r50_fpn_reweight-inverse_1x_lvis-v0.5.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(loss_cls=dict(weighting='effective', beta=0.999))))
