# EQFL on mmdet's YOLOX-M, LVIS v1 (the original, United-Perception's
# eqfl_yolox_medium.yaml, reports 31.0 AP). The YOLOX-M model of
# yolox_m_efl_300e_rfs-1e-3_lvis-v1.py with the EQFL of
# yolox_s_eqfl_300e_rfs-1e-3_lvis-v1.py (beta 2, s = 4); recipe and
# differences from the original as yolox_s_efl_300e_rfs-1e-3_lvis-v1.py.
_base_ = './yolox_m_efl_300e_rfs-1e-3_lvis-v1.py'
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
