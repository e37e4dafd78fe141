# LOCE stage 1 on LVIS v0.5 (1,230 classes): as the v1 config.
_base_ = '../lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py'
model = dict(roi_head=dict(mask_head=dict(type='FCNNormMaskHead', scale=20.0)))
