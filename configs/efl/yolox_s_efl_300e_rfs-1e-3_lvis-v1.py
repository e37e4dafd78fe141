# Equalized Focal Loss (Li et al., "Equalized Focal Loss for Dense
# Long-Tailed Object Detection", CVPR 2022) on mmdet's YOLOX-S, LVIS v1
# (1203 classes). The original ("YOLOX-IP" in United-Perception's
# efl_yolox_small.yaml) reports 23.3 AP (EQFL: 24.2).
# As the original: CSPDarknet-S + PAFPN, 640 px, Mosaic / RandomAffine /
# MixUp / HSV / flip (switched off for the last 15 epochs), multi-scale
# 480-800 (mmdet's batch resize every 10 iterations; the original draws the
# size per image and pads the batch), 300 epochs, SGD nesterov momentum 0.9, wd 5e-4, lr 0.0003125 per
# image x 128 images = 0.04 (8 GPUs x 16 here, 16 x 8 in the original), 5-epoch
# quadratic warm-up from 0, cosine to 0.05x at epoch 285, then constant, EMA
# decay 0.9998 (ExpMomentumEMA momentum 0.0002), RFS t = 0.001 (ceil; RFS
# draws the main image, the mosaic / mixup partners are uniform, as with the
# original's RFS sampler; images without boxes dropped, as the original's
# dataset), EFL gamma_b 2, alpha 0.25, s = 4 (the original's
# YOLOX setting), g from the accumulated gradient ratio (loss buffers);
# the original's yolov5_except optimizer groups: no decay on norm layers and
# biases except the classification convs (weights and biases decayed);
# SimOTA with an exact low-memory class cost (MemoryEfficientSimOTAAssigner);
# test 640, NMS 0.65, no score threshold, 300 detections per image (the metric
# keeps the top 300; mmdet's YOLOXHead has no max_per_img), bbox metric.
# Differences from the original, which is not mmdet's YOLOX: the original
# head has 2 anchors per location (scales 3, 4), ATSS assignment (top 18),
# an IoU branch (score = cls x IoU), GIoU + L1 box losses, classification
# prior 0.001 and EFL over *all* anchors normalised by the positives. Here
# mmdet's YOLOXHead: anchor-free, SimOTA, objectness branch (BCE, handles
# background), IoU + (last 15 epochs) L1 box losses, prior 0.01, and the
# classification loss on the SimOTA positives only (EFL sees no background
# anchors: its negatives are the other classes of positive anchors, so g
# measures something different from the original's). EFL takes the
# positives' soft one_hot * IoU target as binary (the IoU value is dropped;
# see the EQFL config for the quality-aware loss). One class per location
# at test (mmdet's YOLOXHead argmax; the original is multi-class).
# Statistics are of YOLOXHead's summed loss before its division by
# num_total_samples (per-step factor: step ratios exact, steps weighted by
# gradient mass; see EqualizedFocalLoss). Evaluation every 50 epochs (the
# original's test_freq), checkpoints every 10. Epoch length: the original's
# RFS sampler sits under a plain BatchSampler whose length is that of the
# unrepeated dataset, so its "epoch" (schedule, warm-up, no-aug switch) is
# len(LVIS train) images; here an epoch is the repeated list (sum ceil(r_I)),
# so the same 300 epochs are longer. The grouped ATSS originals use the
# repeated length (static_size false), as here.
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)

num_classes = 1203
dataset_type = 'LongTailLVISDataset'
data_root = 'data/lvis_v1/'
backend_args = None
max_epochs = 300
num_last_epochs = 15

model = dict(
    bbox_head=dict(
        num_classes=num_classes,
        loss_cls=dict(
            _delete_=True,
            type='EqualizedFocalLoss',
            num_classes=num_classes,
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            scale_factor=4.0,
            reduction='sum',  # YOLOXHead divides by num_total_samples
            loss_weight=1.0)),
    # mmdet's SimOTA class cost is priors x GTs x 1203 classes (tens of GB
    # for a crowded LVIS mosaic); this one is the same assignment in
    # priors x (GTs + classes)
    train_cfg=dict(
        assigner=dict(type='MemoryEfficientSimOTAAssigner', center_radius=2.5)),
    test_cfg=dict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.65)))

# MultiImageMixDataset (Mosaic / MixUp need it outermost: YOLOXModeSwitchHook
# calls its update_skip_type_keys) around RFS around LVIS
train_dataset = dict(
    _delete_=True,
    type='MultiImageMixDataset',
    dataset=dict(
        type='RepeatFactorDataset',
        thr=1e-3,
        rounding='ceil',
        dataset=dict(
            type=dataset_type,
            version='v1',
            data_root=data_root,
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            pipeline=[
                dict(type='LoadImageFromFile', backend_args=backend_args),
                dict(type='LoadAnnotations', with_bbox=True)
            ],
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            backend_args=backend_args)),
    pipeline={{_base_.train_pipeline}})
train_dataloader = dict(batch_size=16, dataset=train_dataset)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        version='v1',
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='LongTailLVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric=['bbox'],
    max_dets=300)
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs, val_interval=50)
base_lr = 0.04  # 0.0003125 per image x 128
optim_wrapper = dict(
    optimizer=dict(lr=base_lr),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        # custom keys take precedence: cls conv weights and biases decayed
        custom_keys={'bbox_head.multi_level_conv_cls': dict(decay_mult=1.)}))
# the original's YoloXCosineLR: quadratic warm-up from 0 for 5 epochs, cosine
# from epoch 5 reaching 0.05 x lr at epoch 285 (T_max = 280; mmdet's YOLOX
# config has 285), then constant for the last 15 epochs
param_scheduler = [
    dict(
        type='mmdet.QuadraticWarmupLR',
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=5,
        T_max=max_epochs - num_last_epochs - 5,
        end=max_epochs - num_last_epochs,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='ConstantLR',
        by_epoch=True,
        factor=1,
        begin=max_epochs - num_last_epochs,
        end=max_epochs)
]
custom_hooks = [
    dict(
        type='YOLOXModeSwitchHook',
        num_last_epochs=num_last_epochs,
        priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='RepeatFactorEpochHook'),
    dict(type='LossStateLoggerHook'),
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
