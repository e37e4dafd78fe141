# Stand-in for ImageNet pre-training of the toy multi-label experiments:
# the DB paper fine-tunes an ImageNet-pretrained ResNet-50, whose features
# were learnt on other, roughly class-balanced images. Here the "other
# images" are the toy generator's seeds 1-4 (train + val splits of
# data/toy_lvis_seed{1..4}, ~3,750 images): the same 60 visual classes
# (colour x shape x texture), none of the seed-0 images, and a class profile
# unrelated to seed 0's (each seed permutes which classes are rare). Pooled,
# seed 0's tail classes have ~255 images each, its head classes ~226.
# BCE, uniform sampling, bce.py's schedule; only the backbone is kept
# (`model.backbone.init_cfg` of the fine-tuning runs, see
# tools/benchmark/run_db_toy.sh PRETRAIN=1 and docs/db.md).
#   for s in 1 2 3 4; do python tools/make_toy_lvis.py --seed $s \
#       --out data/toy_lvis_seed$s; done
_base_ = './bce.py'
_pipeline = {{_base_.train_pipeline}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type='MultiLabelCocoDataset',
                data_root=f'data/toy_lvis_seed{seed}/',
                ann_file=f'annotations/lvis_v1_{split}.json',
                data_prefix=dict(img=''),
                pipeline=_pipeline) for seed in (1, 2, 3, 4)
            for split in ('train', 'val')
        ]))
