# LOCE stage 1 (Feng et al., ICCV 2021; the original
# configs/loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py): Mask
# R-CNN R50-FPN, softmax CE, no resampling, MS train 640-800, 24 epochs
# (steps 16, 22), lr 0.02 for 8x2 images, evaluation every 12 epochs, with
# the normed mask predictor (cosine 1x1 conv, scale 20) that stage 2 keeps.
_base_ = '../lvis/mask-rcnn_r50_fpn_2x_lvis-v1.py'
model = dict(roi_head=dict(mask_head=dict(type='FCNNormMaskHead', scale=20.0)))
# the original: evaluation = dict(interval=12) (after epochs 12 and 24)
train_cfg = dict(val_interval=12)
