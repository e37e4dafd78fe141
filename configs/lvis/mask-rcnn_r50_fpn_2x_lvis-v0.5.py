# Softmax CE baseline: Mask R-CNN R50-FPN, 2x, LVIS v0.5 (1,230 classes).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/lvis_v05_instance.py',
    'mmdet::_base_/schedules/schedule_2x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmlt'], allow_failed_imports=False)
model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=1230), mask_head=dict(num_classes=1230)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook')
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
