# Softmax CE baseline: Faster R-CNN R50-FPN, 1x, LVIS v0.5 (1,230 classes,
# boxes only), started from ImageNet weights (torchvision://resnet50). The
# recipe of the BAGS baseline (Li et al. CVPR 2020, configs/baselines/
# faster_rcnn_r50_fpn_1x_lvis.py): 8 GPUs x 2 images at lr 0.01, 12 epochs,
# steps 8 and 11, warm-up 500 iterations from lr/3, gradient clipping 35,
# single scale 1333x800, SmoothL1 box losses, test score threshold 0 and 300
# detections. The BAGS baseline itself starts from the COCO-trained mmdet
# Faster R-CNN (faster-rcnn_r50_fpn_1x_lvis-v0.5.py, the default); this
# variant keeps the ImageNet start.
_base_ = ['./faster-rcnn_r50_fpn_1x_lvis-v1.py', '../_base_/decoupled/bags_1x.py']
data_root = 'data/lvis_v0.5/'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        version='v0.5',
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_train.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        version='v0.5',
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_val.json',
        data_prefix=dict(img='val2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v0.5_val.json')
test_evaluator = val_evaluator
model = dict(
    rpn_head=dict(
        loss_bbox=dict(
            _delete_=True, type='SmoothL1Loss', beta=1.0 / 9.0,
            loss_weight=1.0)),
    roi_head=dict(
        bbox_head=dict(
            num_classes=1230,
            loss_bbox=dict(
                _delete_=True, type='SmoothL1Loss', beta=1.0,
                loss_weight=1.0))),
    test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=300)))
# the mmdet v1 schedule of the BAGS repo (lr 0.01 for 8 x 2, clip 35)
train_cfg = dict(max_epochs={{_base_.bags_max_epochs}})
param_scheduler = {{_base_.bags_param_scheduler}}
optim_wrapper = {{_base_.bags_optim_wrapper}}
auto_scale_lr = dict(enable=False, base_batch_size=16)
