# Benchmark row: EQL + repeat factor sampling.
_base_ = '../toy/mask-rcnn_r18_fpn_toy_eql-rfs.py'
benchmark = dict(name='EQL + RFS', model='Mask R-CNN', order=30, baseline='ce')
