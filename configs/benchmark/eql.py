# Benchmark row: Equalization Loss (sigmoid, lambda from the class stats).
_base_ = '../toy/mask-rcnn_r18_fpn_toy_eql.py'
benchmark = dict(name='EQL', model='Mask R-CNN', order=20, baseline='ce')
