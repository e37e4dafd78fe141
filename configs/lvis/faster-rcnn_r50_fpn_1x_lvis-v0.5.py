# Softmax CE baseline: Faster R-CNN R50-FPN, 1x, LVIS v0.5 (1,230 classes,
# boxes only); the stage-1 model of the BAGS v0.5 Faster R-CNN config.
_base_ = './faster-rcnn_r50_fpn_1x_lvis-v1.py'
data_root = 'data/lvis_v0.5/'
train_dataloader = dict(
    dataset=dict(
        version='v0.5',
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_train.json',
        data_prefix=dict(img='train2017/')))
val_dataloader = dict(
    dataset=dict(
        version='v0.5',
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_val.json',
        data_prefix=dict(img='val2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v0.5_val.json')
test_evaluator = val_evaluator
model = dict(roi_head=dict(bbox_head=dict(num_classes=1230)))
