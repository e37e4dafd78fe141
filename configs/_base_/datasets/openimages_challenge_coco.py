# OpenImages Challenge 2019 detection, 500 classes, in COCO format, evaluated
# with the long-tail "grouped AP" of EQLv2 / EFL (GroupedAPMetric: classes
# sorted by training instances, 5 groups of 100, mAP0 = rarest; AP@0.5).
#
# Convert the official challenge csv files (OIDv5 images) with
# bethgelab/openimages2coco:
#   python convert_annotations.py -p data/openimages --version challenge_2019 \
#       --subsets train val --task bbox
# which writes (image ids are the OpenImages ImageID strings, file_name
# '<ImageID>.jpg', iscrowd = IsGroupOf, images carry the verified
# image-level labels as pos_category_ids / neg_category_ids):
#   data/openimages/annotations/openimages_challenge_2019_train_bbox.json
#   data/openimages/annotations/openimages_challenge_2019_val_bbox.json
# with the images in
#   data/openimages/train/<ImageID>.jpg   data/openimages/val/<ImageID>.jpg
#
# Classes: CocoJsonClassesDataset (mmlt) is mmdet's CocoDataset with the class
# names read from the json's categories (label i = i-th listed category;
# the challenge set's duplicate names 'Mouse' / 'Bench' stay two classes).
# GroupedAPMetric checks that the training json has the val json's
# categories.
#
# No resampling: the EQLv2 OpenImages recipe samples uniformly
# (MaxIterationDataset, i.e. an infinite sampler over 180k iterations).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

dataset_type = 'CocoJsonClassesDataset'
data_root = 'data/openimages/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    batch_size=2,
    # iteration-based schedules (the eqlv2 recipe's MaxIterationDataset)
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/openimages_challenge_2019_train_bbox.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/openimages_challenge_2019_val_bbox.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True,
    type='GroupedAPMetric',
    ann_file=data_root + 'annotations/openimages_challenge_2019_val_bbox.json',
    # per-class training instance counts -> the 5 frequency groups
    train_ann_file=data_root +
    'annotations/openimages_challenge_2019_train_bbox.json',
    iou_thrs=0.5,  # the challenge metric; '0.5:0.95' for COCO-style AP
    num_groups=5,
    max_dets=300)
test_evaluator = val_evaluator
