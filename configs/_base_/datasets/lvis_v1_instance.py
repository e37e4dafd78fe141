# LVIS v1 instance segmentation with mmlt's LongTailLVISDataset (validated
# annotation files, classes from the file, fast per-image class lists for
# RFS) and the LVIS metric with the r/c/f table. Images are COCO 2017 images:
#   data/lvis_v1/annotations/lvis_v1_{train,val}.json
#   data/lvis_v1/{train2017,val2017}/
# (coco_url in LVIS v1 names the split folder). Plain sampling; the RFS
# configs wrap the train set in RepeatFactorDataset (e.g.
# configs/lvis/mask-rcnn_r50_fpn_rfs-1e-3_1x_lvis-v1.py).
_base_ = 'mmdet::_base_/datasets/lvis_v1_instance.py'

dataset_type = 'LongTailLVISDataset'
data_root = 'data/lvis_v1/'
backend_args = None

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        version='v1',
        data_root=data_root,
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline={{_base_.train_pipeline}},
        backend_args=backend_args))
val_dataloader = dict(dataset=dict(type=dataset_type, version='v1'))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='LongTailLVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator
