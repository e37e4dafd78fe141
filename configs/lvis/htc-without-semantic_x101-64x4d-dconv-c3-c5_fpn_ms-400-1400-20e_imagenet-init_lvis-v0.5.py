# Softmax CE baseline: HTC X101-64x4d-DCN-FPN, MS 400-1400, 20 epochs, no
# semantic branch, LVIS v0.5 (1,230 classes), started from ImageNet weights;
# the recipe is the v1 config's (the BAGS baseline's, 8 GPUs x 1 image at
# lr 0.01). The default v0.5 stage 1 starts from COCO like the original.
_base_ = './htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_lvis-v1.py'
num_classes = 1230
stage_stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
              [0.033, 0.033, 0.067, 0.067]]
model = dict(
    roi_head=dict(
        bbox_head=[
            dict(
                type='Shared2FCBBoxHead',
                in_channels=256,
                fc_out_channels=1024,
                roi_feat_size=7,
                num_classes=num_classes,
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=stds),
                reg_class_agnostic=True,
                loss_cls=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in stage_stds
        ],
        mask_head=[
            dict(
                type='HTCMaskHead',
                with_conv_res=stage > 0,
                num_convs=4,
                in_channels=256,
                conv_out_channels=256,
                num_classes=num_classes,
                loss_mask=dict(
                    type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))
            for stage in range(3)
        ]))
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
