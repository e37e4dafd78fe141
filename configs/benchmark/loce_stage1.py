# Benchmark row: LOCE's stage 1 -- CE with the normalised (cosine) mask
# head, the checkpoint LOCE's stage 2 starts from.
_base_ = '../toy/loce/stage1.py'
benchmark = dict(
    name='CE, normed mask (LOCE stage 1)', model='Mask R-CNN', order=100,
    baseline='ce')
