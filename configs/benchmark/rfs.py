# Benchmark row: CE + repeat factor sampling (t = 0.15 on the toy set).
_base_ = '../toy/mask-rcnn_r18_fpn_toy_rfs.py'
benchmark = dict(name='RFS', model='Mask R-CNN', order=10, baseline='ce')
