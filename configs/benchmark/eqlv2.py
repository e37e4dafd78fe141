# Benchmark row: EQLv2 (gradient-guided reweighting, sigmoid).
_base_ = '../toy/mask-rcnn_r18_fpn_toy_eqlv2.py'
benchmark = dict(name='EQLv2', model='Mask R-CNN', order=40, baseline='ce')
