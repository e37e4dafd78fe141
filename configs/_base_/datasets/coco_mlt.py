# COCO-MLT (Wu et al., ECCV 2020): a long-tailed subset of COCO 2017 train
# (1,909 images, 80 classes, 6-1,128 images per class in the original's
# list) given by an image-id list; tested on COCO val2017. Image-level
# labels from the instance annotations. Layout:
#   data/coco/annotations/instances_{train,val}2017.json
#   data/coco/{train,val}2017/*.jpg
#   data/coco/longtail2017/{img_id.txt,class_freq.json,class_split.json}
# written by  tools/create_longtail_dataset.py coco ... --out
# data/coco/longtail2017  (or, for the original's list: --img-ids
# appendix/coco/longtail2017/img_id.pkl; that file is plain text).
dataset_type = 'MultiLabelCocoDataset'
data_root = 'data/coco/'
lt_root = data_root + 'longtail2017/'
img_size = 224

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # the original's extra_aug: photometric distortion, then a random crop
    # of >= 0.8 of each side, before the resize to 224 x 224
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18),
    dict(type='RandomRatioCrop', min_ratio=0.8),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackMultiLabelInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='PackMultiLabelInputs')
]
train_dataloader = dict(
    # per process: 8 GPUs x 4 = the original's 32 (one GPU x 32 there; the
    # DB base converts the neck's BatchNorm to SyncBN so it still normalises
    # over 32); on one GPU pass train_dataloader.batch_size=32
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,  # a batch of 1 breaks the neck's BatchNorm
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        img_id_file='longtail2017/img_id.txt',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='MultiLabelMetric',
    train_freq_file=lt_root + 'class_freq.json',
    table_format='markdown')
test_evaluator = val_evaluator
