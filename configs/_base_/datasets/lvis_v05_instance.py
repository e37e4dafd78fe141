# LVIS v0.5 instance segmentation with mmlt's LongTailLVISDataset and metric.
#   data/lvis_v0.5/annotations/lvis_v0.5_{train,val}.json
#   data/lvis_v0.5/{train2017,val2017}/
_base_ = 'mmdet::_base_/datasets/lvis_v0.5_instance.py'

dataset_type = 'LongTailLVISDataset'
data_root = 'data/lvis_v0.5/'
backend_args = None

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        version='v0.5',
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_train.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline={{_base_.train_pipeline}},
        backend_args=backend_args))
val_dataloader = dict(dataset=dict(type=dataset_type, version='v0.5'))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='LongTailLVISMetric',
    ann_file=data_root + 'annotations/lvis_v0.5_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator
