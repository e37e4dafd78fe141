"""Recipe table: lvis_eqlv2 — the LVIS / OpenImages baselines, EQL, EQLv2 and
Seesaw (originals: tztztztztz/eqlv2@907fad905b (mmdet 2.3),
tztztztztz/eql.detectron2@29224acf4e (detectron2, LVIS v0.5),
open-mmlab/mmdetection v3.3.0 configs/seesaw_loss)."""
from _common import derive

EQLV2 = 'tztztztztz/eqlv2@907fad905b'
EQLD2 = 'tztztztztz/eql.detectron2@29224acf4e'

_MASK_LOSSES = ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                'rpn_head.loss_bbox=L1Loss*1, '
                'roi_head.bbox_head.loss_cls={cls}*1, '
                'roi_head.bbox_head.loss_bbox=L1Loss*1, '
                'roi_head.mask_head.loss_mask=CrossEntropyLoss*1')
_FASTER_LOSSES = ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                  'rpn_head.loss_bbox=L1Loss*1, '
                  'roi_head.bbox_head.loss_cls={cls}*1, '
                  'roi_head.bbox_head.loss_bbox=L1Loss*1')
MASK_RCNN = 'MaskRCNN: StandardRoIHead, Shared2FCBBoxHead, FCNMaskHead'
FASTER_RCNN = 'FasterRCNN: StandardRoIHead, Shared2FCBBoxHead'
CE = 'CrossEntropyLoss(use_sigmoid=False)'

# eqlv2 configs/end2end/mask_rcnn_r50_8x2_1x.py -> mask_rcnn_r50_sample1e-3_
# 8x2_1x.py -> configs/lvis/mask_rcnn_r50_fpn_sample1e-3_mstrain_1x_lvis_v1.py
# -> _base_ mask_rcnn_r50_fpn / lvis_v1_instance / schedule_1x /
# default_runtime (mmdet 2.3). Also: poly2mask=False, perclass_nms=True at
# test (a memory saving variant of the per-class NMS; not a fact key).
MMDET2_MASK_1X_V1 = dict(
    gpus=8, imgs_per_gpu=2, batch=16,
    optimizer='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001,
    paramwise=None, clip_grad=None, amp=False,
    schedule='12 ep', lr_decay='step [8, 11] ep x0.1',
    warmup='500 it linear from 0.001',
    backbone='ResNet-50 pytorch', pretrained='torchvision://resnet50',
    frozen_stages=1, backbone_norm='BN eval', load_from=None, trainable=None,
    detector=MASK_RCNN, num_classes=1203, loss_cls=CE,
    loss_weights=_MASK_LOSSES.format(cls='CrossEntropyLoss'),
    train_scale='1333x[640..800 step 32]', flip=0.5, test_scale='1333x800',
    sampler='uniform', filter_empty_gt=True,
    roi_sampler='RandomSampler 512 pos 0.25',
    score_thr=0.0001, max_per_img=300, nms='nms 0.5',
    val_interval=12, ema=None, seed=None)
RFS_CEIL_1E3 = 'RepeatFactorDataset(rounding=ceil, thr=0.001)'
EQL_V1 = 'EqualizationLoss(version=v1)'
EQLV2_LOSS = 'EqualizationLossV2()'

# eqlv2 configs/lvis/mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5.py:
# RFS 1e-3 (ClassBalancedDataset, ceil), 2x, evaluation every epoch.
MMDET2_MASK_2X_V05 = derive(
    MMDET2_MASK_1X_V1, num_classes=1230, schedule='24 ep',
    lr_decay='step [16, 22] ep x0.1', sampler=RFS_CEIL_1E3, val_interval=1)

# eql.detectron2 projects/EQL/configs/eql_mask_rcnn_R_50_FPN_1x.yaml ->
# Base-EQL-RCNN-FPN.yaml -> detectron2/config/defaults.py of that snapshot:
# 16 images, lr 0.02, 90k iterations, steps 60k/80k, warm-up 1000 it from
# 1/1000, MSRA caffe R-50 with FrozenBN, FREEZE_AT 2 (stem + res2 =
# frozen_stages 1), choice of short side 640..800 max 1333, test 800/1333,
# smooth-L1 beta 0 (= L1), 512 RoIs 25% positive, NMS 0.5, score 1e-4, 300
# dets, EVAL_PERIOD 0 (evaluated once after training), SEED -1.
# WEIGHT_DECAY_NORM 0 only touches frozen norms here (paramwise None).
D2_EQL_V05 = derive(
    MMDET2_MASK_1X_V1,
    schedule='90000 it', lr_decay='step [60000, 80000] it x0.1',
    warmup='1000 it linear from 0.001',
    backbone='ResNet-50 caffe',
    pretrained='detectron2://ImageNetPretrained/MSRA/R-50.pkl',
    backbone_norm='BN eval frozen affine', num_classes=1230,
    loss_cls='EqualizationLoss(version=v0.5)',
    loss_weights=_MASK_LOSSES.format(cls='EqualizationLoss'),
    val_interval=90000)
D2_R101 = dict(backbone='ResNet-101 caffe',
               pretrained='detectron2://ImageNetPretrained/MSRA/R-101.pkl')

# eqlv2 configs/openimages/faster_rcnn_r50_fpn_8x2_2x.py ->
# configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py (mmdet 2.3):
# MaxIterationDataset of 180k x 16 samples (uniform), total_epochs 1,
# evaluation interval 2 > total_epochs ('disable evaluation').
OI_FASTER = derive(
    MMDET2_MASK_1X_V1, schedule='180000 it',
    lr_decay='step [120000, 160000] it x0.1', detector=FASTER_RCNN,
    num_classes=500, loss_weights=_FASTER_LOSSES.format(
        cls='CrossEntropyLoss'),
    train_scale='1333x800', val_interval=None)

ORIGINALS = {
    'eqlv2/mask_rcnn_r50_8x2_1x': dict(
        source=f'{EQLV2} configs/end2end/mask_rcnn_r50_8x2_1x.py',
        reported='LVIS v1 val: mask AP 16.1 (APr 0.0 / APc 12.0 / APf 27.4)',
        facts=MMDET2_MASK_1X_V1),
    'eqlv2/mask_rcnn_r50_sample1e-3_8x2_1x': dict(
        source=f'{EQLV2} configs/end2end/mask_rcnn_r50_sample1e-3_8x2_1x.py',
        reported='LVIS v1 val: mask AP 22.2 (APr 11.5 / APc 21.2 / '
                 'APf 28.0)',
        facts=derive(MMDET2_MASK_1X_V1, sampler=RFS_CEIL_1E3)),
    'eqlv2/eql_r50_8x2_1x': dict(
        source=f'{EQLV2} configs/end2end/eql_r50_8x2_1x.py',
        reported='LVIS v1 val: mask AP 18.6 (APr 2.1 / APc 17.4 / APf 27.2)',
        facts=derive(MMDET2_MASK_1X_V1, loss_cls=EQL_V1,
                     loss_weights=_MASK_LOSSES.format(
                         cls='EqualizationLoss'))),
    'eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_eql_1x_lvis_v1': dict(
        source=f'{EQLV2} configs/lvis/'
               'mask_rcnn_r50_fpn_sample1e-3_mstrain_eql_1x_lvis_v1.py',
        reported=None,
        facts=derive(MMDET2_MASK_1X_V1, loss_cls=EQL_V1,
                     loss_weights=_MASK_LOSSES.format(
                         cls='EqualizationLoss'),
                     sampler=RFS_CEIL_1E3, val_interval=1)),
    'eqlv2/eqlv2_r50_8x2_1x': dict(
        source=f'{EQLV2} configs/end2end/eqlv2_r50_8x2_1x.py',
        reported='LVIS v1 val: mask AP 23.7 (APr 14.9 / APc 22.8 / '
                 'APf 28.6), bbox AP 24.2',
        facts=derive(MMDET2_MASK_1X_V1, loss_cls=EQLV2_LOSS,
                     loss_weights=_MASK_LOSSES.format(
                         cls='EqualizationLossV2'))),
    'eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5': dict(
        source=f'{EQLV2} configs/lvis/'
               'mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5.py',
        reported=None,
        facts=MMDET2_MASK_2X_V05),
    'eqld2/eql_mask_rcnn_R_50_FPN_1x': dict(
        source=f'{EQLD2} projects/EQL/configs/eql_mask_rcnn_R_50_FPN_1x.yaml',
        reported='LVIS v0.5 val: mask AP 24.0 (APr 9.4 / APc 25.2 / '
                 'APf 28.4), bbox AP 23.6',
        facts=D2_EQL_V05),
    'eqld2/eql_resampling_mask_rcnn_R_50_FPN_1x': dict(
        source=f'{EQLD2} projects/EQL/configs/'
               'eql_resampling_mask_rcnn_R_50_FPN_1x.yaml',
        reported='LVIS v0.5 val: mask AP 26.1 (APr 17.2 / APc 27.3 / '
                 'APf 28.2), bbox AP 25.4',
        facts=derive(
            D2_EQL_V05,
            sampler='RepeatFactorDataset(rounding=stochastic, thr=0.0005)')),
    'eqld2/eql_mask_rcnn_R_101_FPN_1x': dict(
        source=f'{EQLD2} projects/EQL/configs/eql_mask_rcnn_R_50_FPN_1x.yaml'
               ' with RESNETS.DEPTH 101 and MSRA R-101.pkl (README R101 rows;'
               ' no R101 config released)',
        reported='LVIS v0.5 val: mask AP 25.9 (APr 10.0 / APc 27.9 / '
                 'APf 29.8), bbox AP 25.9',
        facts=derive(D2_EQL_V05, **D2_R101)),
    'eqld2/eql_resampling_mask_rcnn_R_101_FPN_1x': dict(
        source=f'{EQLD2} projects/EQL/configs/'
               'eql_resampling_mask_rcnn_R_50_FPN_1x.yaml with RESNETS.DEPTH '
               '101 and MSRA R-101.pkl (README R101 rows; no R101 config '
               'released)',
        reported='LVIS v0.5 val: mask AP 27.4 (APr 17.3 / APc 29.0 / '
                 'APf 29.4), bbox AP 27.1',
        facts=derive(
            D2_EQL_V05, **D2_R101,
            sampler='RepeatFactorDataset(rounding=stochastic, thr=0.0005)')),
    'eqlv2/openimages/faster_rcnn_r50_fpn_8x2_2x': dict(
        source=f'{EQLV2} configs/openimages/faster_rcnn_r50_fpn_8x2_2x.py',
        reported='OpenImages Challenge 2019 val: AP50 43.1 (rarest group '
                 '26.3)',
        facts=OI_FASTER),
    'eqlv2/openimages/eqlv2_r50_fpn_8x2_2x': dict(
        source=f'{EQLV2} configs/openimages/eqlv2_r50_fpn_8x2_2x.py',
        reported='OpenImages Challenge 2019 val: AP50 52.6 (rarest group '
                 '48.6)',
        facts=derive(OI_FASTER, loss_cls=EQLV2_LOSS,
                     loss_weights=_FASTER_LOSSES.format(
                         cls='EqualizationLossV2'))),
    'mmdet/mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1': dict(
        source='open-mmlab/mmdetection v3.3.0 configs/seesaw_loss/'
               'mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1.py',
        reported='LVIS v1 val: mask AP 25.0, bbox AP 25.6 (mmdet metafile)',
        facts=derive(MMDET2_MASK_1X_V1, schedule='24 ep',
                     lr_decay='step [16, 22] ep x0.1',
                     loss_cls='SeesawLoss(p=0.8, q=2)',
                     loss_weights=_MASK_LOSSES.format(cls='SeesawLoss'),
                     val_interval=24)),
}

# ---------------------------------------------------------------- reasons
_V1_2X = ('2x variant of the 1x recipe (mmdet 2x: 24 epochs, steps 16/22); '
          'eqlv2 has no LVIS v1 2x config')
_V1_2X_DIFFERS = {
    'schedule': ('24 ep', _V1_2X),
    'lr_decay': ('step [16, 22] ep x0.1', _V1_2X),
    'val_interval': (24, 'evaluated once, after the last epoch, as the 1x '
                         'original'),
}
_FASTER = ('box-only variant (the BAGS stage-1 model on LVIS v1): Faster '
           'R-CNN instead of Mask R-CNN, same recipe otherwise')
_FASTER_DIFFERS = {
    'detector': (FASTER_RCNN, _FASTER),
    'loss_weights': (_FASTER_LOSSES.format(cls='CrossEntropyLoss'), _FASTER),
}
_R101_V1 = ('R101 variant; the eqlv2 repo releases R101 only for the RFS '
            'baseline (configs/lvis/mask_rcnn_r101_fpn_sample1e-3_mstrain_'
            '1x_lvis_v1.py: depth 101, torchvision://resnet101)')
_R101_V1_DIFFERS = {
    'backbone': ('ResNet-101 pytorch', _R101_V1),
    'pretrained': ('torchvision://resnet101', _R101_V1),
}
_EVAL_END = ('evaluated once after the last epoch as in the eqlv2 end2end '
             'configs (this lvis/ config evaluates every epoch; only cost)')
_V05_MMDET = ('mmlt trains all LVIS v0.5 methods on one mmdet-style 2x '
              'Mask R-CNN (configs/lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py) '
              'so that EQL is compared with the CE baseline on the same '
              'recipe; 24 ep x 16 images ~ 90k x 16 on v0.5 without RFS')
_V05_BACKBONE = ('the v0.5 baseline uses the mmdet torchvision ResNet; the '
                 'detectron2 original uses the MSRA caffe ResNet with '
                 'FrozenBN (the eqld2 README credits part of its AP gain to '
                 'it); mmdet equivalent: open-mmlab://detectron2/'
                 'resnet50_caffe, style caffe, BN requires_grad=False')


def _d2_differs(depth=50, rfs=False):
    bb = f'ResNet-{depth} pytorch'
    d = {
        'schedule': ('24 ep', _V05_MMDET + (
            '; with RFS (t=0.0005) the epochs are longer, so this trains '
            'more iterations than the original 90k' if rfs else '')),
        'lr_decay': ('step [16, 22] ep x0.1', _V05_MMDET + ' (steps at '
                     '16.8 / 22.4 epochs in the original)'),
        'warmup': ('500 it linear from 0.001', _V05_MMDET + ' (mmdet '
                   'warm-up 500 it; detectron2 1000 it)'),
        'backbone': (bb, _V05_BACKBONE),
        'pretrained': (f'torchvision://resnet{depth}', _V05_BACKBONE),
        'backbone_norm': ('BN eval', _V05_BACKBONE),
        'val_interval': (1, 'the v0.5 baseline evaluates every epoch (as '
                            'the eqlv2 v0.5 config); detectron2 evaluates '
                            'once after training'),
    }
    return d


_V05_NORFS = ('CE baseline without resampling; the eqlv2 repo only has the '
              'RFS v0.5 config (detectron2 EQL README baseline 21.2 / APr '
              '3.2 is without RFS but its config is not released)')

ROWS = [
    # ------------------------------------------------ LVIS v1 baselines
    dict(config='configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_8x2_1x',
         fixed=['val_interval 1 -> 12 (the eqlv2 end2end configs evaluate '
                'once, after epoch 12; inherited by every LVIS v1 1x '
                'config)'],
         note='not carried over: poly2mask=False and perclass_nms=True '
              '(memory savings of the original, same results)'),
    dict(config='configs/lvis/mask-rcnn_r50_fpn_2x_lvis-v1.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_8x2_1x',
         differs=_V1_2X_DIFFERS,
         fixed=['val_interval 1 -> 24 (evaluate once, at the end)']),
    dict(config='configs/lvis/mask-rcnn_r50_fpn_rfs-1e-3_1x_lvis-v1.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_sample1e-3_8x2_1x',
         fixed=['val_interval 1 -> 12 (inherited from the 1x baseline)']),
    dict(config='configs/lvis/mask-rcnn_r50_fpn_rfs-1e-3_2x_lvis-v1.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_sample1e-3_8x2_1x',
         differs=_V1_2X_DIFFERS,
         fixed=['val_interval 1 -> 24 (inherited from the 2x baseline)']),
    dict(config='configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v1.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_8x2_1x',
         differs=_FASTER_DIFFERS,
         fixed=['val_interval 1 -> 12 (evaluate once, at the end)']),
    dict(config='configs/lvis/faster-rcnn_r50_fpn_rfs-1e-3_1x_lvis-v1.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_sample1e-3_8x2_1x',
         differs=_FASTER_DIFFERS,
         fixed=['val_interval 1 -> 12 (inherited from the Faster 1x '
                'baseline)']),
    # ------------------------------------------------ LVIS v0.5 baselines
    dict(config='configs/lvis/mask-rcnn_r50_fpn_rfs-1e-3_2x_lvis-v0.5.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5'),
    dict(config='configs/lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5',
         differs={'sampler': ('uniform', _V05_NORFS)},
         note='the shared v0.5 stage-1 / baseline model (EQL, LOCE, '
              'decoupled v0.5 configs inherit it)'),
    dict(config='configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py',
         method='Baselines (LVIS v1 / v0.5, eqlv2 repo)',
         original='eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_2x_lvis_v0.5',
         differs={
             'schedule': ('12 ep', '1x variant: the stage-1 model of the '
                          'BAGS v0.5 Mask R-CNN config (BAGS baselines are '
                          '1x, see the BAGS table)'),
             'lr_decay': ('step [8, 11] ep x0.1', '1x variant (mmdet 1x '
                          'steps)'),
             'sampler': ('uniform', _V05_NORFS),
         }),
    # ------------------------------------------------ EQL
    dict(config='configs/eql/mask-rcnn_r50_fpn_eql_1x_lvis-v1.py',
         method='EQL',
         original='eqlv2/eql_r50_8x2_1x',
         fixed=['val_interval 1 -> 12 (inherited from the 1x baseline)'],
         note='lambda 0.0011 marks 815 classes tail in the original '
              '(frequencies over the 99,388 training images with '
              'annotations)'),
    dict(config='configs/eql/mask-rcnn_r101_fpn_eql_1x_lvis-v1.py',
         method='EQL',
         original='eqlv2/eql_r50_8x2_1x',
         differs=_R101_V1_DIFFERS,
         fixed=['val_interval 1 -> 12 (inherited)']),
    dict(config='configs/eql/mask-rcnn_r50_fpn_eql_rfs-1e-3_1x_lvis-v1.py',
         method='EQL',
         original='eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_eql_1x_lvis_v1',
         differs={'val_interval': (12, _EVAL_END)}),
    dict(config='configs/eql/mask-rcnn_r101_fpn_eql_rfs-1e-3_1x_lvis-v1.py',
         method='EQL',
         original='eqlv2/mask_rcnn_r50_fpn_sample1e-3_mstrain_eql_1x_lvis_v1',
         differs=dict(_R101_V1_DIFFERS, val_interval=(12, _EVAL_END))),
    dict(config='configs/eql/mask-rcnn_r50_fpn_eql_2x_lvis-v0.5.py',
         method='EQL',
         original='eqld2/eql_mask_rcnn_R_50_FPN_1x',
         differs=_d2_differs(50),
         note='lambda 0.00177 (detectron2 default) -> 915 tail classes'),
    dict(config='configs/eql/mask-rcnn_r101_fpn_eql_2x_lvis-v0.5.py',
         method='EQL',
         original='eqld2/eql_mask_rcnn_R_101_FPN_1x',
         differs=_d2_differs(101)),
    dict(config='configs/eql/mask-rcnn_r50_fpn_eql_rfs-5e-4_2x_lvis-v0.5.py',
         method='EQL',
         original='eqld2/eql_resampling_mask_rcnn_R_50_FPN_1x',
         differs=_d2_differs(50, rfs=True),
         fixed=['sampler RepeatFactorDataset rounding ceil -> stochastic '
                "(detectron2's RepeatFactorTrainingSampler)"]),
    dict(config='configs/eql/mask-rcnn_r101_fpn_eql_rfs-5e-4_2x_lvis-v0.5.py',
         method='EQL',
         original='eqld2/eql_resampling_mask_rcnn_R_101_FPN_1x',
         differs=_d2_differs(101, rfs=True),
         fixed=['sampler rounding ceil -> stochastic (inherited)']),
    # ------------------------------------------------ EQLv2
    dict(config='configs/eqlv2/mask-rcnn_r50_fpn_eqlv2_1x_lvis-v1.py',
         method='EQLv2',
         original='eqlv2/eqlv2_r50_8x2_1x',
         fixed=['val_interval 1 -> 12 (inherited from the 1x baseline)']),
    dict(config='configs/eqlv2/mask-rcnn_r101_fpn_eqlv2_1x_lvis-v1.py',
         method='EQLv2',
         original='eqlv2/eqlv2_r50_8x2_1x',
         differs=_R101_V1_DIFFERS,
         fixed=['val_interval 1 -> 12 (inherited)']),
    # ------------------------------------------------ OpenImages
    dict(config='configs/openimages/'
                'faster-rcnn_r50_fpn_180k_openimages-challenge.py',
         method='OpenImages (eqlv2 repo)',
         original='eqlv2/openimages/faster_rcnn_r50_fpn_8x2_2x',
         differs={'val_interval': (180000, 'one evaluation at the end of '
                                   'training (the original disables it and '
                                   'tests separately)')}),
    dict(config='configs/openimages/'
                'faster-rcnn_r50_fpn_eqlv2_180k_openimages-challenge.py',
         method='OpenImages (eqlv2 repo)',
         original='eqlv2/openimages/eqlv2_r50_fpn_8x2_2x',
         differs={'val_interval': (180000, 'one evaluation at the end of '
                                   'training (the original disables it and '
                                   'tests separately)')},
         note='num_classes=500 given to EQLv2 (the released config leaves '
              'the LVIS default 1203)'),
    # ------------------------------------------------ Seesaw
    dict(config='configs/seesaw/mask-rcnn_r50_fpn_seesaw_1x_lvis-v1.py',
         method='Seesaw (mmdet)',
         original='mmdet/mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1',
         differs={
             'schedule': ('12 ep', 'deliberate: the 1x schedule of the EQL / '
                          'EQLv2 configs, for a like-for-like comparison'),
             'lr_decay': ('step [8, 11] ep x0.1', 'deliberate: 1x, as '
                          'EQL / EQLv2'),
             'val_interval': (12, 'evaluated once, after the last epoch '
                              '(as the original)'),
         }),
]
