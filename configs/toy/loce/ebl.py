# LOCE ablation on the toy set: Equilibrium Loss only (no memory-augmented
# feature sampling); everything else as ebl_mfs.py. The init hook still
# warms up the mean score on class-balanced images (2 per class and rank).
_base_ = './ebl_mfs.py'
model = dict(roi_head=dict(mfs=None))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='MemoryBankInitHook', images_per_class=2),
    dict(type='LossStateLoggerHook', interval=20),
]
