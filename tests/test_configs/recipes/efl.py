"""Recipe table: efl (originals: ModelTC/United-Perception@52aaeb9ed2).

United-Perception (UP) YAMLs, translated into mmlt's fact vocabulary:
``base_lr`` is per image (UP multiplies it by the total batch); batch =
``batch_size`` per GPU x 16 GPUs (the original README: all results on 16
GPUs); UP counts ``num_classes`` with the background (1204 -> 1203);
``resnet50-19c8e357.pth`` / ``resnet101-5d3b4d8f.pth`` are torchvision's
ImageNet weights (mmdet: ``torchvision://resnet50``); ``freeze_bn`` is a
frozen BatchNorm (statistics and affine); ``frozen_layers: [0, 1]`` = stem +
layer 1 (``frozen_stages=1``); the warm-up starts at ``warmup_ratio x`` the
scaled lr; ``pre_nms_score_thresh: 0`` = no score threshold;
``test_freq`` = evaluation interval in epochs. UP's ``runtime.random_seed``
defaults to 131. Code read: up/utils/model/lr_helper.py,
up/tasks/det/plugins/yolox/utils/lr_helper.py,
up/tasks/det/plugins/efl/utils/optimizer_helper.py,
up/data/samplers/{sampler,batch_sampler}.py,
up/tasks/det/models/postprocess/{retina_post_process,roi_predictor}.py,
up/tasks/det/data/datasets/{lvis,coco}_dataset.py, up/runner/base_runner.py.
"""
from _common import derive

UP = 'ModelTC/United-Perception@52aaeb9ed2 configs/det/efl/'
SEED = ('mmengine draws a fresh seed per run (logged); UP fixes 131 by '
        'default. Not a recipe parameter: pass --cfg-options '
        'randomness.seed=131 to match')
GPUS_ATSS = ('the original README\'s own 8-GPU setting (8 x 2, same '
             'effective batch 16 and lr); its reported runs used 16 x 1')

# efl_improved_baseline_r50_2x_rfs.yaml
_ATSS = dict(
    gpus=16,
    imgs_per_gpu=1,
    batch=16,
    optimizer='SGD',
    lr=0.02,  # 0.00125 x 16
    momentum=0.9,
    weight_decay=0.0001,
    paramwise=None,
    clip_grad=35,
    amp=False,
    schedule='24 ep',
    lr_decay='step [16, 22] ep x0.1',
    warmup='1 ep linear from 0.001',
    backbone='ResNet-50 pytorch',
    pretrained='torchvision://resnet50',  # resnet50-19c8e357.pth
    frozen_stages=1,
    backbone_norm='BN eval frozen affine',  # freeze_bn
    load_from=None,
    trainable=None,
    detector='RetinaNet: RetinaHeadWithIOU (ATSS top 18, IoU branch)',
    num_classes=1203,
    loss_cls='EqualizedFocalLoss(alpha=0.25, gamma=2, scale_factor=8, '
             'use_sigmoid=True)',
    loss_weights='bbox_head.loss_cls=EqualizedFocalLoss*1, '
                 'bbox_head.loss_bbox=GIoULoss*1, '
                 'bbox_head.loss_iou=CrossEntropyLoss*1',
    train_scale='1333x[640..800 step 32]',
    flip=0.5,
    test_scale='1333x800',
    # repeat_factor t 0.001, ri_mode ceil, pn 0.5, static_size false under
    # the aspect-ratio batch sampler: the epoch is the repeated list
    sampler='RepeatFactorDataset(rounding=ceil, thr=0.001)',
    filter_empty_gt=True,  # UP's COCO/LVIS datasets keep annotated images
    roi_sampler=None,
    score_thr=0.0,  # pre_nms_score_thresh 0; pre_nms_top_n 6000 per level
    max_per_img=300,
    nms='nms 0.5',
    val_interval=24,  # test_freq 24
    ema=None,
    seed=131,
)

# efl_oids_r50_2x_random.yaml: 1.719425 epochs of the 1,674,979-image
# challenge set at batch 16 = 180000 iterations; milestones 1.146283 /
# 1.528377 ep = 120k / 160k; warm-up 0.004776 ep = 500 iterations;
# test_freq 2 (> the schedule: evaluated once, at the end).
_OIDS = derive(
    _ATSS,
    schedule='180000 it',
    lr_decay='step [120000, 160000] it x0.1',
    warmup='500 it linear from 0.001',
    detector='RetinaNet: RetinaHeadWithIOU (ATSS top 18, IoU branch)',
    num_classes=500,
    train_scale='1333x800',
    sampler='uniform',  # dist sampler
    val_interval=180000,
)

# efl_yolox_small.yaml
_YOLOX = dict(
    gpus=16,
    imgs_per_gpu=8,
    batch=128,
    optimizer='SGD nesterov',
    lr=0.04,  # 0.0003125 x 128
    momentum=0.9,
    weight_decay=0.0005,
    # yolov5_except: BN weights and all biases undecayed except the biases
    # of cls_preds.{0,1,2} (mmdet: bbox_head.multi_level_conv_cls)
    paramwise='bias_decay_mult=0.0, custom_keys={bbox_head.multi_level_'
              'conv_cls={decay_mult=1}}, norm_decay_mult=0.0',
    clip_grad=None,
    amp=False,
    schedule='300 ep',
    # YoloXCosineLR: cosine from the warm-up end to 0.05 x lr at epoch 285,
    # then min lr for the 15 no-aug epochs
    lr_decay='cosine 5-285 ep to 0.002; constant 285-300 ep',
    warmup='5 ep quadratic',  # yolox_cos warm-up from 0
    backbone='CSPDarknet deepen 0.33 widen 0.5',
    pretrained=None,
    frozen_stages=None,
    backbone_norm='BN',  # solo_bn
    load_from=None,
    trainable=None,
    detector='YOLOX-IP: YoloXHead (2 anchors, ATSS top 18, IoU branch)',
    num_classes=1203,
    loss_cls='EqualizedFocalLoss(alpha=0.25, gamma=2, scale_factor=4, '
             'use_sigmoid=True)',
    loss_weights='bbox_head.loss_cls=EqualizedFocalLoss*1, '
                 'bbox_head.loss_bbox=GIoULoss*1, bbox_head.loss_l1=L1Loss*1, '
                 'bbox_head.loss_iou=CrossEntropyLoss*1',
    train_scale='Mosaic + RandomAffine + MixUp + per-image long side '
                '[480..800 step 32], batch pad',
    flip=0.5,
    test_scale='640x640',
    # repeat_factor ceil under a plain BatchSampler: its length (= the
    # epoch of the schedule) is that of the unrepeated dataset
    sampler='RepeatFactorDataset(rounding=ceil, thr=0.001), epoch = '
            'unrepeated dataset length',
    filter_empty_gt=True,
    roi_sampler=None,
    score_thr=0.0,  # pre_nms_score_thresh 0, pre_nms_top_n 1000
    max_per_img=300,
    nms='nms 0.65',
    val_interval=50,  # test_freq 50
    ema='ExpMomentumEMA momentum=0.0002',  # exp, decay 0.9998, 2000
    seed=131,
)
_YOLOX_M = derive(_YOLOX, backbone='CSPDarknet deepen 0.67 widen 0.75')
_EQFL = 'EqualizedQualityFocalLoss(beta=2, scale_factor=4, use_sigmoid=True)'
_EQFL_W = ('bbox_head.loss_cls=EqualizedQualityFocalLoss*1, '
           'bbox_head.loss_bbox=GIoULoss*1, bbox_head.loss_l1=L1Loss*1, '
           'bbox_head.loss_iou=CrossEntropyLoss*1')

ORIGINALS = {
    'up/efl_improved_baseline_r50_2x_rfs': dict(
        source=UP + 'efl_improved_baseline_r50_2x_rfs.yaml',
        reported='LVIS v1 val bbox AP 27.5 (APr 20.2 / APc 26.1 / APf 32.4)',
        facts=_ATSS),
    'up/efl_improved_baseline_r101_2x_rfs': dict(
        source=UP + 'efl_improved_baseline_r101_2x_rfs.yaml',
        reported='LVIS v1 val bbox AP 29.2 (APr 23.5 / APc 27.4 / APf 33.8)',
        facts=derive(_ATSS, backbone='ResNet-101 pytorch',
                     pretrained='torchvision://resnet101')),
    'up/efl_oids_r50_2x_random': dict(
        source=UP + 'efl_oids_r50_2x_random.yaml',
        reported='OpenImages Challenge 2019 val mAP 51.5',
        facts=_OIDS),
    'up/efl_yolox_small': dict(
        source=UP + 'efl_yolox_small.yaml',
        reported='LVIS v1 val bbox AP 23.3 (APr 18.1 / APc 21.2 / APf 28.0)',
        facts=_YOLOX),
    'up/eqfl_yolox_samll': dict(
        source=UP + 'eqfl_yolox_samll.yaml',
        reported='LVIS v1 val bbox AP 24.2 (APr 16.3 / APc 22.7 / APf 29.4)',
        facts=derive(_YOLOX, loss_cls=_EQFL, loss_weights=_EQFL_W)),
    'up/efl_yolox_medium': dict(
        source=UP + 'efl_yolox_medium.yaml',
        reported='LVIS v1 val bbox AP 30.0 (APr 23.8 / APc 28.2 / APf 34.7)',
        facts=_YOLOX_M),
    'up/eqfl_yolox_medium': dict(
        source=UP + 'eqfl_yolox_medium.yaml',
        reported='LVIS v1 val bbox AP 31.0 (APr 24.0 / APc 29.1 / APf 36.2)',
        facts=derive(_YOLOX_M, loss_cls=_EQFL, loss_weights=_EQFL_W)),
}

# ------------------------------------------------------------------ rows
_IOU_STANDIN = (
    'stand-in: mmdet 3.x has no RetinaNet/ATSS head with an IoU branch; '
    "mmdet's ATSSHead (same ATSS assignment, 2 anchors of scales 6 and 8, "
    'GN head, prior 0.001) predicts centerness instead: BCE on the '
    "anchor's centerness target, score = cls x centerness (the original: "
    'BCE on the IoU of the predicted box, score = cls x IoU)')
_ATSS_DIFFERS = {
    'gpus': (8, GPUS_ATSS),
    'imgs_per_gpu': (2, GPUS_ATSS),
    'detector': ('ATSS: ATSSHead', _IOU_STANDIN),
    'loss_weights': (
        'bbox_head.loss_cls=EqualizedFocalLoss*1, '
        'bbox_head.loss_bbox=GIoULoss*1, '
        'bbox_head.loss_centerness=CrossEntropyLoss*1',
        'stand-in: the IoU branch loss (BCE, weight 1) is the centerness '
        'loss (BCE, weight 1); GIoU weight 1 and its normalisation by the '
        'sum of the quality targets as the original'),
    'seed': (None, SEED),
}
_ATSS_FIXED = [
    "_base_/models/atss_r50_fpn_efl.py: backbone norm_cfg requires_grad "
    "True -> False (the original's freeze_bn freezes the BN affine too)",
    "_base_/models/atss_r50_fpn_efl.py: loss_bbox GIoULoss loss_weight 2.0 "
    "(mmdet's ATSS) -> 1.0 (the original's loc_loss weight)",
    "_base_/models/atss_r50_fpn_efl.py: test_cfg score_thr 0.0001 -> 0.0 "
    "(pre_nms_score_thresh 0), nms_pre 1200 -> 6000 (pre_nms_top_n is per "
    "level, not over P3-P7)",
    'train_cfg.val_interval 1 -> 24 (test_freq 24)',
    "_base_/models/atss_r50_fpn_efl.py: neck add_extra_convs 'on_output' -> "
    "'on_lateral' (UP's FPN builds P6 from C5's 1x1 lateral, P7 from P6)",
]

_FOCAL = 'FocalLoss(alpha=0.25, gamma=2, use_sigmoid=True)'
_FOCAL_WHY = ('the baseline of the comparison: the same recipe with '
              "mmdet's sigmoid focal loss (EFL at g = 1); no EFL-repo yaml "
              'of its own')

# RetinaNet / GFL variants: nearest original = the R50 improved baseline
_RETINA_WHY = ("mmlt variant: mmdet's RetinaNet R50-FPN model (1 x 9 "
               'anchors, max-IoU assignment, L1 box loss, no IoU branch, '
               'no GN) with the EFL recipe')
_LR_WHY = ("mmlt variant: mmdet's lr for this detector (0.01 for 16 "
           'images); the improved baseline uses 0.02')
_BN_WHY = ("mmlt variant: mmdet's backbone setting for this detector "
           '(BN statistics frozen, affine trained)')
_RETINA_DIFFERS = {
    'gpus': (8, GPUS_ATSS),
    'imgs_per_gpu': (2, GPUS_ATSS),
    'lr': (0.01, _LR_WHY),
    'backbone_norm': ('BN eval', _BN_WHY),
    'detector': ('RetinaNet: RetinaHead', _RETINA_WHY),
    'loss_weights': ('bbox_head.loss_cls=EqualizedFocalLoss*1, '
                     'bbox_head.loss_bbox=L1Loss*1', _RETINA_WHY),
    'seed': (None, SEED),
}
_RETINA_FIXED = [
    "param_scheduler: warm-up 500 it (mmdet's) -> 1 ep linear from 0.001 "
    "(the EFL recipe's)",
    'test_cfg score_thr 0.0001 -> 0.0, nms_pre 1200 -> 6000 (the EFL '
    "recipe's test; the header wrongly called 1200 per level about 6000 "
    'over P3-P7: UP\'s pre_nms_top_n is per level)',
    'train_cfg.val_interval 1 -> 24 (test_freq 24)',
]
_GFL_WHY = ("mmlt variant: mmdet's GFL R50-FPN head (ATSS top 9, 1 anchor, "
            'quality focal loss on the IoU target, distribution focal loss, '
            'GIoU weight 2); the EQFL originals are YOLOX-IP only')
_GFL_DIFFERS = dict(
    _RETINA_DIFFERS,
    detector=('GFL: GFLHead', _GFL_WHY),
    loss_cls=('EqualizedQualityFocalLoss(beta=2, scale_factor=8, '
              'use_sigmoid=True)',
              'EQFL (beta 2) in place of EFL, with the RetinaNet-style s = 8 '
              '(the originals use s = 4 only with YOLOX)'),
    loss_weights=('bbox_head.loss_cls=EqualizedQualityFocalLoss*1, '
                  'bbox_head.loss_dfl=DistributionFocalLoss*0.25, '
                  'bbox_head.loss_bbox=GIoULoss*2', _GFL_WHY),
    nms=('nms 0.6', "mmlt variant: mmdet's GFL test NMS"),
)
_GFL_FIXED = [
    'inherited from the RetinaNet config: ' + x for x in _RETINA_FIXED]

# YOLOX
_YOLOX_HEAD_WHY = (
    "stand-in: mmdet 3.x has no YOLOX-IP head; mmdet's YOLOXHead is "
    'anchor-free with SimOTA (MemoryEfficientSimOTAAssigner), an objectness '
    'branch and the classification loss on the SimOTA positives only; test '
    'one class per location (argmax). The original: 2 anchors per location '
    '(scales 3, 4), ATSS top 18, IoU branch (score = cls x IoU), '
    'classification loss on all anchors, multi-class test')
_YOLOX_GPUS = ('same effective batch 128 and lr 0.04 on 8 GPUs x 16 '
               '(the original: 16 GPUs x 8)')
_YOLOX_DIFFERS = {
    'gpus': (8, _YOLOX_GPUS),
    'imgs_per_gpu': (16, _YOLOX_GPUS),
    'detector': ('YOLOX: YOLOXHead', _YOLOX_HEAD_WHY),
    'loss_weights': (
        'bbox_head.loss_cls=EqualizedFocalLoss*1, '
        'bbox_head.loss_bbox=IoULoss*5, bbox_head.loss_obj=CrossEntropyLoss*1,'
        ' bbox_head.loss_l1=L1Loss*1',
        "stand-in: mmdet's YOLOXHead losses (IoU x5, objectness BCE, L1 only "
        'in the last 15 epochs) in place of GIoU x1 + L1 x1 (all epochs) + '
        'IoU-branch BCE'),
    'train_scale': (
        'Mosaic + RandomAffine + MixUp + 640x640 + batch resize [480, 800] '
        'every 10',
        "mmdet's YOLOX pipeline: the same size range, drawn per batch every "
        '10 iterations (BatchSyncRandomResize) instead of per image'),
    'sampler': (
        'RepeatFactorDataset(rounding=ceil, thr=0.001)',
        "mmlt's RepeatFactorDataset has no static epoch length: an epoch "
        'here is the repeated list (sum ceil(r_I) images), in the original '
        'len(LVIS train) images (its RFS sampler under a plain BatchSampler), '
        'so the 300 epochs (and the warm-up, cosine, no-aug switch) are '
        'longer here by the mean ceil(r_I)'),
    'max_per_img': (
        None, "mmdet's YOLOXHead has no max_per_img; the LVIS metric "
              '(max_dets=300) keeps the top 300 per image'),
    'seed': (None, SEED),
}
_YOLOX_FIXED = [
    'yolox_s_efl (inherited by the others): train_dataloader.batch_size '
    '8 -> 16, auto_scale_lr.base_batch_size 64 -> 128, lr 0.02 -> 0.04 '
    '(the original: 128 images at 0.0003125 per image)',
    'CosineAnnealingLR T_max 285 -> 280 (reaches 0.05 x lr at epoch 285 '
    'as YoloXCosineLR)',
    'filter_cfg.filter_empty_gt False -> True (UP keeps annotated images '
    'only)',
    'test_cfg score_thr 0.0001 -> 0.0 (pre_nms_score_thresh 0)',
]
_EQFL_W_MMLT = (
    'bbox_head.loss_cls=EqualizedQualityFocalLoss*1, '
    'bbox_head.loss_bbox=IoULoss*5, bbox_head.loss_obj=CrossEntropyLoss*1, '
    'bbox_head.loss_l1=L1Loss*1')
_EQFL_DIFFERS = dict(
    _YOLOX_DIFFERS,
    loss_weights=(_EQFL_W_MMLT, _YOLOX_DIFFERS['loss_weights'][1]))

M = 'EFL / EQFL'
C = 'configs/efl/'
ROWS = [
    dict(config=C + 'atss_r50_fpn_efl_improved-baseline_rfs-1e-3_2x_lvis-v1.py',
         method=M, original='up/efl_improved_baseline_r50_2x_rfs',
         differs=_ATSS_DIFFERS, fixed=_ATSS_FIXED),
    dict(config=C + 'atss_r101_fpn_efl_improved-baseline_rfs-1e-3_2x_lvis-v1'
         '.py',
         method=M, original='up/efl_improved_baseline_r101_2x_rfs',
         differs=_ATSS_DIFFERS,
         fixed=['inherited from the R50 config: ' + x for x in _ATSS_FIXED]),
    dict(config=C + 'atss_r50_fpn_focal_improved-baseline_rfs-1e-3_2x_lvis-v1'
         '.py',
         method=M, original='up/efl_improved_baseline_r50_2x_rfs',
         differs=dict(
             _ATSS_DIFFERS,
             loss_cls=(_FOCAL, _FOCAL_WHY),
             loss_weights=('bbox_head.loss_cls=FocalLoss*1, '
                           'bbox_head.loss_bbox=GIoULoss*1, '
                           'bbox_head.loss_centerness=CrossEntropyLoss*1',
                           _FOCAL_WHY + '; ' +
                           _ATSS_DIFFERS['loss_weights'][1])),
         fixed=['inherited from the EFL config: ' + x for x in _ATSS_FIXED],
         note='focal-loss baseline of the improved baseline'),
    dict(config=C + 'retinanet_r50_fpn_efl_rfs-1e-3_2x_lvis-v1.py',
         method=M, original='up/efl_improved_baseline_r50_2x_rfs',
         differs=_RETINA_DIFFERS, fixed=_RETINA_FIXED,
         note="mmlt variant: EFL on mmdet's RetinaNet with the EFL recipe"),
    dict(config=C + 'retinanet_r101_fpn_efl_rfs-1e-3_2x_lvis-v1.py',
         method=M, original='up/efl_improved_baseline_r101_2x_rfs',
         differs=_RETINA_DIFFERS,
         fixed=['inherited from the R50 config: ' + x for x in _RETINA_FIXED],
         note="mmlt variant: EFL on mmdet's RetinaNet R101"),
    dict(config=C + 'retinanet_r50_fpn_focal_rfs-1e-3_2x_lvis-v1.py',
         method=M, original='up/efl_improved_baseline_r50_2x_rfs',
         differs=dict(
             _RETINA_DIFFERS,
             loss_cls=(_FOCAL, _FOCAL_WHY),
             loss_weights=('bbox_head.loss_cls=FocalLoss*1, '
                           'bbox_head.loss_bbox=L1Loss*1', _RETINA_WHY)),
         fixed=['inherited from the EFL config: ' + x for x in _RETINA_FIXED],
         note="focal-loss baseline of the RetinaNet variant"),
    dict(config=C + 'gfl_r50_fpn_eqfl_rfs-1e-3_2x_lvis-v1.py',
         method=M, original='up/efl_improved_baseline_r50_2x_rfs',
         differs=_GFL_DIFFERS, fixed=_GFL_FIXED,
         note="mmlt variant: EQFL on mmdet's GFL with the EFL recipe"),
    dict(config=C + 'gfl_r50_fpn_qfl_rfs-1e-3_2x_lvis-v1.py',
         method=M, original='up/efl_improved_baseline_r50_2x_rfs',
         differs=dict(
             _GFL_DIFFERS,
             loss_cls=('QualityFocalLoss(beta=2, use_sigmoid=True)',
                       "the baseline of the comparison: mmdet's quality "
                       'focal loss (EQFL at g = 1)'),
             loss_weights=('bbox_head.loss_cls=QualityFocalLoss*1, '
                           'bbox_head.loss_dfl=DistributionFocalLoss*0.25, '
                           'bbox_head.loss_bbox=GIoULoss*2', _GFL_WHY)),
         fixed=_GFL_FIXED,
         note='QFL baseline of the GFL variant'),
    dict(config=C + 'yolox_s_efl_300e_rfs-1e-3_lvis-v1.py',
         method=M, original='up/efl_yolox_small',
         differs=_YOLOX_DIFFERS, fixed=_YOLOX_FIXED,
         note="port of YOLOX-IP-S onto mmdet's YOLOX-S"),
    dict(config=C + 'yolox_s_eqfl_300e_rfs-1e-3_lvis-v1.py',
         method=M, original='up/eqfl_yolox_samll',
         differs=_EQFL_DIFFERS,
         fixed=['inherited from yolox_s_efl: ' + x for x in _YOLOX_FIXED]),
    dict(config=C + 'yolox_m_efl_300e_rfs-1e-3_lvis-v1.py',
         method=M, original='up/efl_yolox_medium',
         differs=_YOLOX_DIFFERS,
         fixed=['inherited from yolox_s_efl: ' + x for x in _YOLOX_FIXED]),
    dict(config=C + 'yolox_m_eqfl_300e_rfs-1e-3_lvis-v1.py',
         method=M, original='up/eqfl_yolox_medium',
         differs=_EQFL_DIFFERS,
         fixed=['inherited from yolox_s_efl: ' + x for x in _YOLOX_FIXED]),
    dict(config='configs/openimages/atss_r50_fpn_efl_180k_openimages-'
         'challenge.py',
         method=M, original='up/efl_oids_r50_2x_random',
         differs=dict(
             _ATSS_DIFFERS,
             detector=('ATSS: ATSSHead', _IOU_STANDIN)),
         fixed=['inherited from _base_/models/atss_r50_fpn_efl.py: ' + x
                for x in _ATSS_FIXED if 'val_interval' not in x],
         note='the original yaml keeps COCO placeholder data paths; data '
              "here: the EQLv2 OpenImages challenge-2019 set"),
]
