# LOCE stage 1 on the toy set: the toy CE Mask R-CNN
# (../mask-rcnn_r18_fpn_toy_ce.py, 5 epochs, softmax CE, plain sampling)
# with LOCE's normed (cosine, scale 20) mask predictor, as the original's
# stage 1 (mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py).
_base_ = '../mask-rcnn_r18_fpn_toy_ce.py'
model = dict(roi_head=dict(mask_head=dict(type='FCNNormMaskHead', scale=20.0)))
