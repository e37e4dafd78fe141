# Benchmark row: Seesaw Loss (mmdet's SeesawLoss, its own cls head).
_base_ = '../toy/mask-rcnn_r18_fpn_toy_seesaw.py'
benchmark = dict(name='Seesaw', model='Mask R-CNN', order=50, baseline='ce')
