# Benchmark row: Equalized Quality Focal Loss on GFL (box only).
_base_ = '../toy/gfl_r18_fpn_toy_eqfl.py'
benchmark = dict(
    name='EQFL', model='GFL', order=230, eval=['bbox'], baseline='gfl_qfl')
