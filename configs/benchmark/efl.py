# Benchmark row: Equalized Focal Loss on RetinaNet (box only).
_base_ = '../toy/retinanet_r18_fpn_toy_efl.py'
benchmark = dict(
    name='EFL', model='RetinaNet', order=210, eval=['bbox'],
    baseline='retinanet_focal')
