# Softmax cross-entropy baseline: Mask R-CNN R50-FPN, 1x, LVIS v1, 8x2 images,
# lr 0.02, MS train 640-800, no resampling, evaluated once after epoch 12
# (the eqlv2 recipe configs/end2end/mask_rcnn_r50_8x2_1x.py; reported 16.1
# mask AP, APr 0.0). Methods inherit this and change the loss.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/lvis_v1_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=1203), mask_head=dict(num_classes=1203)),
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.0001,
            # LVIS allows up to 300 detections per image
            max_per_img=300)))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
# the eqlv2 end2end configs evaluate once, after the last epoch
train_cfg = dict(val_interval=12)
auto_scale_lr = dict(enable=False, base_batch_size=16)
