# Multi-label (image-level) version of the embedded toy LVIS set
# (tools/make_toy_lvis.py): an image's labels are the classes of its boxes.
# 737 non-empty training images (11 empty ones are dropped), 193 val images
# with every class present, 60 classes. Toy classes are colour x shape x
# texture, so the photometric distortion of the real-data pipeline (hue
# shift, channel swap) is left out: it would change the labels.
dataset_type = 'MultiLabelCocoDataset'
data_root = 'data/toy_lvis/'
img_size = 128

train_pipeline = [
    dict(type='LoadImageFromFile'),
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
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,  # a batch of 1 breaks the neck's BatchNorm
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# head / medium / tail from the training images of each class
val_evaluator = dict(
    type='MultiLabelMetric',
    train_ann_file=data_root + 'annotations/lvis_v1_train.json',
    table_format='markdown')
test_evaluator = val_evaluator
