# VOC-MLT (Wu et al., ECCV 2020): a long-tailed subset of VOC 2012 trainval
# (1,142 images, 20 classes, 4-775 images per class in the original's
# list) given by an image-id list; tested on VOC 2007 test. Image-level
# labels from the XML annotations; as in the original, objects flagged
# difficult give labels too (with_difficult=True, train and test). Layout:
#   data/VOCdevkit/VOC2012/{Annotations,ImageSets,JPEGImages}
#   data/VOCdevkit/VOC2007/{Annotations,ImageSets,JPEGImages}   (test)
#   data/VOCdevkit/longtail2012/{img_id.txt,class_freq.json,class_split.json}
# written by  tools/create_longtail_dataset.py voc ... --out
# data/VOCdevkit/longtail2012  (or --img-ids with the original's list).
dataset_type = 'MultiLabelVOCDataset'
data_root = 'data/VOCdevkit/'
lt_root = data_root + 'longtail2012/'
img_size = 224

train_pipeline = [
    dict(type='LoadImageFromFile'),
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
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='VOC2012/ImageSets/Main/trainval.txt',
        img_id_file='longtail2012/img_id.txt',
        data_prefix=dict(sub_data_root='VOC2012/'),
        with_difficult=True,
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
        ann_file='VOC2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        with_difficult=True,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='MultiLabelMetric',
    train_freq_file=lt_root + 'class_freq.json',
    table_format='markdown')
test_evaluator = val_evaluator
