# Benchmark row: Balanced Group Softmax, classifier re-trained from CE.
_base_ = '../toy/decoupled/bags.py'
benchmark = dict(
    name='BAGS', model='Mask R-CNN, stage 2', order=90, stage1='ce',
    baseline='ce')
