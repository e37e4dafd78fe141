# EFL on mmdet's YOLOX-M (depth 0.67, width 0.75), LVIS v1 (the original,
# United-Perception's efl_yolox_medium.yaml, reports 30.0 AP). Recipe and
# differences from the original as yolox_s_efl_300e_rfs-1e-3_lvis-v1.py.
_base_ = './yolox_s_efl_300e_rfs-1e-3_lvis-v1.py'
model = dict(
    backbone=dict(deepen_factor=0.67, widen_factor=0.75),
    neck=dict(in_channels=[192, 384, 768], out_channels=192, num_csp_blocks=2),
    bbox_head=dict(in_channels=192, feat_channels=192))
