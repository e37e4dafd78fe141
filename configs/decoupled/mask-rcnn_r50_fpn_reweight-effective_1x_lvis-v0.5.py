# Re-weighting by the effective number of samples (Cui et al. CVPR 2019),
# whole model: w_c = (1 - beta) / (1 - beta^n_c), beta = 0.999,
# mean-normalised over the foreground, clipped to [0.1, 5], background 1
# (BAGS's cls_weight_bours.pt).
_base_ = './mask-rcnn_r50_fpn_reweight-inverse_1x_lvis-v0.5.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(loss_cls=dict(weighting='effective', beta=0.999))))
