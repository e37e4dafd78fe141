# Benchmark row: cRT -- fc_cls re-initialised and re-trained on class-aware
# sampling from the CE checkpoint (`stage1='ce'`: the runner passes that
# run's checkpoint as load_from).
_base_ = '../toy/decoupled/crt.py'
benchmark = dict(
    name='cRT', model='Mask R-CNN, stage 2', order=60, stage1='ce',
    baseline='ce')
