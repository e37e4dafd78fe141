# Equalized Quality Focal Loss (Li et al., CVPR 2022) on mmdet's YOLOX-S,
# LVIS v1 (the original, United-Perception's eqfl_yolox_samll.yaml, reports
# 24.2 AP). Everything as yolox_s_efl_300e_rfs-1e-3_lvis-v1.py (recipe and
# differences from the original there) except the classification loss:
# EQFL, beta 2, s = 4, no alpha; YOLOXHead's soft one_hot * IoU target of
# the positives is the (label, IoU quality) target. As with EFL, mmdet's
# YOLOXHead applies it to the SimOTA positives only (background is the
# objectness loss's), whereas the original EQFL covers all anchors.
_base_ = './yolox_s_efl_300e_rfs-1e-3_lvis-v1.py'
num_classes = 1203
model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='EqualizedQualityFocalLoss',
            num_classes=num_classes,
            use_sigmoid=True,
            beta=2.0,
            scale_factor=4.0,
            reduction='sum',
            loss_weight=1.0)))
