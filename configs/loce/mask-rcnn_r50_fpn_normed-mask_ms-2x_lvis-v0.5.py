# LOCE stage 1 on LVIS v0.5 (1,230 classes; the original
# configs/loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v0.5.py): the
# recipe of the v1 config (softmax CE, no resampling, MS train 640-800,
# 24 epochs with steps 16 and 22, lr 0.02 for 8x2 images, evaluation every
# 12 epochs, normed mask predictor with scale 20).
_base_ = '../lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py'
model = dict(roi_head=dict(mask_head=dict(type='FCNNormMaskHead', scale=20.0)))
# the original: evaluation = dict(interval=12) (after epochs 12 and 24)
train_cfg = dict(val_interval=12)
