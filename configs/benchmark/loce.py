# Benchmark row: LOCE stage 2 (Equilibrium Loss + memory-augmented feature
# sampling) from the LOCE stage-1 checkpoint.
_base_ = '../toy/loce/ebl_mfs.py'
benchmark = dict(
    name='LOCE (EBL + MFS)', model='Mask R-CNN, stage 2', order=110,
    stage1='loce_stage1', baseline='ce')
