# LOCE stage 2, Mask R-CNN R101-FPN, LVIS v1 (reported 29.0 box / 28.0 mask
# AP): the R50 recipe on the R101 stage-1 checkpoint
# (mask-rcnn_r101_fpn_normed-mask_ms-2x_lvis-v1.py, epoch 24).
_base_ = './loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py'
load_from = ('work_dirs/mask-rcnn_r101_fpn_normed-mask_ms-2x_lvis-v1/'
             'epoch_24.pth')
model = dict(backbone=dict(depth=101))
