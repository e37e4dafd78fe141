# VOC-MLT, ResNet-50 + PFC, 224 x 224, batch 32 (8 GPUs x 4,
# SyncBN neck), lr 0.02, 8 epochs, seed 1:
# re-balanced weighting + focal, class-aware sampling, no NTR.
_base_ = [
    '../_base_/datasets/voc_mlt.py', '../_base_/db/resnet50_pfc_8e.py'
]
freq_file = 'data/VOCdevkit/longtail2012/class_freq.json'  # tools/create_longtail_dataset.py
model = dict(
    num_classes=20,
    loss_cls=dict(
        type='DistributionBalancedLoss',
        reweight_func='rebalance',
        map_param=dict(alpha=0.1, beta=10.0, gamma=0.3),
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(),
        freq_file=freq_file))

# class-aware sampling as the original's ClassAwareSampler: 3 images in a
# row per drawn class, max_c n_c * C / 4 samples per epoch (reduce=4)
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='ClassAwareDataset',
        num_samples=None,
        reduce=4,
        samples_per_class=3,
        seed=0,
        dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [dict(type='RNGStateHook'), dict(type='DatasetEpochHook')]
