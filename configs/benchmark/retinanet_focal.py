# Benchmark row: RetinaNet with focal loss, EFL's baseline (box only).
_base_ = '../toy/retinanet_r18_fpn_toy_focal.py'
benchmark = dict(
    name='Focal', model='RetinaNet', order=200, eval=['bbox'])
