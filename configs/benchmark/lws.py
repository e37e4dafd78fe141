# Benchmark row: LWS -- one learned scale per classifier row, from CE.
_base_ = '../toy/decoupled/lws.py'
benchmark = dict(
    name='LWS', model='Mask R-CNN, stage 2', order=70, stage1='ce',
    baseline='ce')
