# EQL on LVIS v0.5 (1,230 classes, lambda = 0.00177 -> 915 tail classes), Mask
# R-CNN R50-FPN. Reported (detectron2 EQL, v0.5): baseline 21.2 (APr 3.2) ->
# EQL 24.0 (9.4) -> EQL + RFS(t=0.0005) 26.1 (17.2). The original trains
# detectron2's 90k iterations x 16 images (~25 epochs of v0.5, warm-up 1000
# it) from the MSRA caffe R-50 with FrozenBN; this config trains on mmlt's
# shared v0.5 baseline instead (mmdet 2x: 24 epochs, torchvision R-50), so
# EQL and CE compare on one recipe.
_base_ = [
    '../lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py',
    '../_base_/models/sigmoid_cls_init.py'
]

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLoss',
                version='v0.5',  # lambda = 0.00177
                num_classes=1230,
                ann_file='data/lvis_v0.5/annotations/lvis_v0.5_train.json'),
            init_cfg={{_base_.sigmoid_prior_init}})))
