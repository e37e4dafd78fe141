# cRT (classifier re-training, Kang et al. ICLR 2020, as run in the EQLv2
# repo) on the toy set: from the stage-1 CE checkpoint, fc_cls is
# re-initialised (its keys are dropped from `load_from` by
# decoupled.reinit, so it keeps mmdet's Normal(0, 0.01) init) and trained
# alone with softmax CE on class-aware sampling: a seeded round robin over
# the classes, each class cycling through its images. One epoch = the
# filtered toy training set's length (737 of the 748 images have a box), so
# cRT runs exactly as many iterations as the plain-sampling control
# (ce_cls_only.py); 4 epochs, lr 0.01, step at 3 (stage2_base.py).
_base_ = './stage2_base.py'
decoupled = dict(reinit=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'])
train_dataloader = dict(
    # the class-aware table must be read in order; DefaultSampler splits it
    # between ranks (rank r takes samples r, r + world, ...)
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='ClassAwareDataset',
        num_samples=None,  # = len(dataset after filtering) = 737
        seed=0,
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    # redraws the class-aware table from (seed, epoch) every epoch
    dict(type='DatasetEpochHook'),
]
