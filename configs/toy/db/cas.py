# Class-aware sampling of the toy multi-label set as in the DB repo's
# ClassAwareSampler: a class round robin taking 3 images in a row per drawn
# class (samples_per_class=3). One epoch = the training set's length (737
# images; the repo's reduce=4 would draw max_c n_c * C / 4, ~4x more, too
# long for the toy schedule), so every toy config runs the same number of
# iterations. Inherited by the R-BCE / NTR / DB toy configs; this config
# itself is BCE with re-sampling (the paper's "RS" baseline).
_base_ = './bce.py'
train_dataloader = dict(
    # the class-aware table is read in order; DefaultSampler splits it
    # between ranks (rank r takes samples r, r + world, ...)
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='ClassAwareDataset',
        num_samples=None,
        samples_per_class=3,
        seed=0,
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [
    dict(type='RNGStateHook'),
    # redraws the class-aware table from (seed, epoch) every epoch
    dict(type='DatasetEpochHook'),
]
