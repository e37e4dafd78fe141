# Benchmark row: softmax CE, the baseline of every Mask R-CNN row (and the
# stage-1 checkpoint of the decoupled rows). tools/benchmark/run_all.py
# reads `benchmark`; everything else is the toy config's.
_base_ = '../toy/mask-rcnn_r18_fpn_toy_ce.py'
benchmark = dict(name='CE', model='Mask R-CNN', order=0)
