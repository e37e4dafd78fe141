# Fine-tune on tail, classifier only: nearest original is the BAGS repo's
# "Finetune tail" baseline (LVIS v1 port of the v0.5 recipe)
# (FishYuLi/BalancedGroupSoftmax@90e04fd8cc configs/transferred/faster_rcnn_r50_fpn_1x_lvis_finetunefewshot.py; reported 22.28 bbox
# AP, Faster R50, LVIS v0.5), whose schedule this follows: from the
# softmax-CE stage 1 (configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py), SGD
# lr 0.0001 for 8 GPUs x 2 images, 10 epochs, step at 7, warm-up 500
# iterations from lr/3, grad clip 35, single scale 1333x800, test score_thr
# 0.0 / 300 detections. mmlt's variant trains fc_cls only (the original:
# every parameter) on the training images that contain at least one rare or
# common instance (ClassSubsetDataset; groups = the annotation file's LVIS
# frequency field; the other annotations of those images are kept) -- the
# original's config names the full training file, its tail subset is not
# released.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
    '../_base_/decoupled/cls_only.py',
    '../_base_/decoupled/bags_1x.py',
    '../_base_/decoupled/bags_transferred.py',
]
load_from = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
# every weight comes from load_from: skip the ImageNet download
model = dict(
    backbone=dict(init_cfg=None),
    test_cfg=dict(rcnn=dict(score_thr={{_base_.transferred_score_thr}})))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassSubsetDataset',
        groups=('r', 'c'),
        # the stage-1 training set, with the single-scale pipeline
        dataset=dict(
            type='LongTailLVISDataset',
            version='v1',
            data_root='data/lvis_v1/',
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.transferred_train_pipeline}},
            backend_args=None)))
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0 / 3,
        by_epoch=False,
        begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[7],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.0001, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
