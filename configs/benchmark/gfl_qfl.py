# Benchmark row: GFL with quality focal loss, EQFL's baseline (box only).
_base_ = '../toy/gfl_r18_fpn_toy_qfl.py'
benchmark = dict(
    name='QFL', model='GFL', order=220, eval=['bbox'])
