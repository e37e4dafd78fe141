"""Recipe table: bags (originals: FishYuLi/BalancedGroupSoftmax@90e04fd8cc,
mmdet v1.0rc0, LVIS v0.5)."""
from _common import derive

REPO = 'FishYuLi/BalancedGroupSoftmax@90e04fd8cc '
GS = ('GroupSoftmaxLoss(label_mapping=GroupSoftmaxLabelMapping(bin_edges='
      '(10, 100, 1000)), others_sample_ratio=8)')
FC_CLS = 'roi_head\\.bbox_head\\.(\\d+\\.)?fc_cls\\.'
RPN = 'rpn_head.loss_cls=CrossEntropyLoss*1, rpn_head.loss_bbox=SmoothL1Loss*1'


def _stages(cls, mask=None):
    s = ', '.join(f'roi_head.bbox_head.{i}.loss_cls={cls}*1, '
                  f'roi_head.bbox_head.{i}.loss_bbox=SmoothL1Loss*1'
                  for i in range(3))
    return f'{RPN}, {s}' + (f', {mask}' if mask else '') + \
        ', stages=[1, 0.5, 0.25]'


# configs/baselines/faster_rcnn_r50_fpn_1x_lvis.py (all mmdet v1.0rc0
# defaults written out in the file)
FASTER = dict(
    gpus=8, imgs_per_gpu=2, batch=16, optimizer='SGD', lr=0.01,
    momentum=0.9, weight_decay=0.0001, paramwise=None, clip_grad=35,
    amp=False, schedule='12 ep', lr_decay='step [8, 11] ep x0.1',
    warmup='500 it linear from 0.333333', backbone='ResNet-50 pytorch',
    pretrained='torchvision://resnet50', frozen_stages=1,
    backbone_norm='BN eval',
    load_from='./data/download_models/'
    'faster_rcnn_r50_fpn_2x_20181010-443129e1.pth',
    trainable=None, detector='FasterRCNN: StandardRoIHead, Shared2FCBBoxHead',
    num_classes=1230, loss_cls='CrossEntropyLoss(use_sigmoid=False)',
    loss_weights=f'{RPN}, roi_head.bbox_head.loss_cls=CrossEntropyLoss*1, '
    'roi_head.bbox_head.loss_bbox=SmoothL1Loss*1',
    train_scale='1333x800', flip=0.5, test_scale='1333x800',
    sampler='uniform', filter_empty_gt=True,
    roi_sampler='RandomSampler 512 pos 0.25', score_thr=0.0,
    max_per_img=300, nms='nms 0.5', val_interval=None, ema=None, seed=None)
GS_FASTER = derive(
    FASTER, load_from='./work_dirs/faster_rcnn_r50_fpn_1x_lvis/latest.pth',
    trainable=FC_CLS, loss_cls=GS,
    loss_weights=FASTER['loss_weights'].replace(
        'bbox_head.loss_cls=CrossEntropyLoss', 'bbox_head.loss_cls='
        'GroupSoftmaxLoss'))
MASK = derive(
    FASTER, imgs_per_gpu=1, batch=8,
    load_from=None,
    detector='MaskRCNN: StandardRoIHead, Shared2FCBBoxHead, FCNMaskHead',
    loss_weights=FASTER['loss_weights'] +
    ', roi_head.mask_head.loss_mask=CrossEntropyLoss*1',
    score_thr=0.05, max_per_img=100, val_interval=1)
GS_MASK = derive(
    MASK, imgs_per_gpu=2, batch=16,
    load_from='./data/weneed/mask_r50/epoch_12.pth', trainable=FC_CLS,
    loss_cls=GS, loss_weights=MASK['loss_weights'].replace(
        'bbox_head.loss_cls=CrossEntropyLoss', 'bbox_head.loss_cls='
        'GroupSoftmaxLoss'), score_thr=0.001, max_per_img=300)
CASCADE = derive(
    FASTER, backbone='ResNeXt-101 64x4d pytorch',
    pretrained='open-mmlab://resnext101_64x4d',
    load_from='./data/download_models/'
    'cascade_rcnn_x101_64x4d_fpn_2x_20181218-5add321e.pth',
    detector='CascadeRCNN: CascadeRoIHead, Shared2FCBBoxHead',
    loss_weights=_stages('CrossEntropyLoss'), score_thr=0.001)
GS_CASCADE = derive(
    CASCADE,
    load_from='./work_dirs/cascade_rcnn_x101_64x4d_fpn_1x_lvis/latest.pth',
    trainable=FC_CLS, loss_cls=GS, loss_weights=_stages('GroupSoftmaxLoss'))
HTC_MASK = ', '.join(f'roi_head.mask_head.{i}.loss_mask=CrossEntropyLoss*1'
                     for i in range(3))
HTC = derive(
    CASCADE, gpus=8, imgs_per_gpu=1, batch=8, schedule='20 ep',
    lr_decay='step [16, 19] ep x0.1',
    backbone='ResNeXt-101 64x4d pytorch DCN c3-c5',
    load_from='./data/pretrained_models/htc_dconv_c3-c5_mstrain_400_1400_'
    'x101_64x4d_fpn_20e_20190408-0e50669c.pth',
    detector='HybridTaskCascade: HybridTaskCascadeRoIHead, '
    'Shared2FCBBoxHead, HTCMaskHead',
    loss_weights=_stages(
        'CrossEntropyLoss',
        HTC_MASK + ', roi_head.semantic_head.loss_seg=CrossEntropyLoss*0.2'),
    train_scale='1600x[400, 1400] range', score_thr=0.001, max_per_img=100)
GS_HTC = derive(
    HTC, lr=0.005, schedule='12 ep', lr_decay='step [8, 11] ep x0.1',
    load_from='./data/weneed/htc_x101_msdcn/epoch_20.pth', trainable=FC_CLS,
    loss_cls=GS, loss_weights=_stages(
        'GroupSoftmaxLoss',
        HTC_MASK + ', roi_head.semantic_head.loss_seg=CrossEntropyLoss*0.2'),
    max_per_img=300)

ORIGINALS = {
    'bags/baselines/faster_rcnn_r50_fpn_1x_lvis': dict(
        source=REPO + 'configs/baselines/faster_rcnn_r50_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 20.98', facts=FASTER),
    'bags/gs_faster_rcnn_r50_fpn_1x_lvis_with0_bg8': dict(
        source=REPO + 'configs/bags/gs_faster_rcnn_r50_fpn_1x_lvis_with0_bg8.py',
        reported='LVIS v0.5 val bbox AP 25.96 (APr 17.66 / APc 25.75 / '
        'APf 29.55)', facts=GS_FASTER),
    'bags/gs_mask_rcnn_r50_fpn_1x_lvis': dict(
        source=REPO + 'configs/bags/gs_mask_rcnn_r50_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox / mask AP 25.76 / 26.25',
        facts=GS_MASK),
    'bags/baselines/cascade_rcnn_x101_64x4d_fpn_1x_lvis': dict(
        source=REPO + 'configs/baselines/cascade_rcnn_x101_64x4d_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 27.16', facts=CASCADE),
    'bags/gs_cascade_rcnn_x101_64x4d_fpn_1x_lvis': dict(
        source=REPO + 'configs/bags/gs_cascade_rcnn_x101_64x4d_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 32.77', facts=GS_CASCADE),
    'bags/baselines/htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis':
    dict(source=REPO + 'configs/baselines/htc_dconv_c3-c5_mstrain_400_1400_'
         'x101_64x4d_fpn_20e_lvis.py',
         reported='LVIS v0.5 val bbox / mask AP 34.61 / 31.94', facts=HTC),
    'bags/gs_htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis': dict(
        source=REPO + 'configs/bags/gs_htc_dconv_c3-c5_mstrain_400_1400_'
        'x101_64x4d_fpn_20e_lvis.py',
        reported='LVIS v0.5 val bbox / mask AP 37.71 / 34.39', facts=GS_HTC),
}
ROWS = [{'config': 'configs/bags/cascade-mask-rcnn_x101-64x4d_fpn_bags_1x_lvis-v0.5.py',
  'method': 'BAGS',
  'original': 'bags/gs_cascade_rcnn_x101_64x4d_fpn_1x_lvis',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5/epoch_12.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'detector': ('CascadeRCNN: CascadeRoIHead, Shared2FCBBoxHead, '
                           'FCNMaskHead',
                           "deliberate: mmlt's Cascade config is Cascade Mask "
                           'R-CNN (box and mask AP on LVIS); the original is '
                           'box-only Cascade R-CNN'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'the mask branch of Cascade Mask R-CNN '
                               '(loss_mask x1); see detector'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['train_scale -> 1333x800, score_thr 0.0001 -> 0.001 (via its '
            'stage-1 config)']},
 {'config': 'configs/bags/cascade-mask-rcnn_x101-64x4d_fpn_bags_1x_lvis-v1.py',
  'method': 'BAGS',
  'original': 'bags/gs_cascade_rcnn_x101_64x4d_fpn_1x_lvis',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v1/epoch_12.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'detector': ('CascadeRCNN: CascadeRoIHead, Shared2FCBBoxHead, '
                           'FCNMaskHead',
                           "deliberate: mmlt's Cascade config is Cascade Mask "
                           'R-CNN (box and mask AP on LVIS); the original is '
                           'box-only Cascade R-CNN'),
              'num_classes': (1203,
                              "LVIS v1 port: 1203 classes instead of v0.5's "
                              '1230'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'the mask branch of Cascade Mask R-CNN '
                               '(loss_mask x1); see detector'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['train_scale -> 1333x800, score_thr 0.0001 -> 0.001 (via its '
            'stage-1 config)'],
  'note': 'LVIS v1 port of the v0.5 original'},
 {'config': 'configs/bags/faster-rcnn_r50_fpn_bags_1x_lvis-v0.5.py',
  'method': 'BAGS',
  'original': 'bags/gs_faster_rcnn_r50_fpn_1x_lvis_with0_bg8',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/faster-rcnn_r50_fpn_1x_lvis-v0.5/epoch_12.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'val_interval': (12,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['train_scale 1333x[640..800 step 32] -> 1333x800, score_thr '
            '0.0001 -> 0.0, box losses L1 -> SmoothL1 (via its stage-1 '
            'config)']},
 {'config': 'configs/bags/faster-rcnn_r50_fpn_bags_1x_lvis-v1.py',
  'method': 'BAGS',
  'original': 'bags/gs_faster_rcnn_r50_fpn_1x_lvis_with0_bg8',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/faster-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'num_classes': (1203,
                              "LVIS v1 port: 1203 classes instead of v0.5's "
                              '1230'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=L1Loss*1, '
                               'roi_head.bbox_head.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.loss_bbox=L1Loss*1',
                               'inherited from the LVIS v1 stage-1 config (L1 '
                               'box losses, eqlv2/mmdet 2.x); frozen in stage '
                               '2, so they do not train'),
              'val_interval': (12,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['train_scale 1333x[640..800 step 32] -> 1333x800',
            'score_thr 0.0001 -> 0.0'],
  'note': 'LVIS v1 port of the v0.5 original'},
 {'config': 'configs/bags/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400_bags_1x_lvis-v0.5.py',
  'method': 'BAGS',
  'original': 'bags/gs_htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_lvis-v0.5/epoch_20.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.0.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.1.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.2.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'stand-in: no semantic branch (loss_seg x0.2): '
                               "it needs COCO-stuff maps, which mmlt's LVIS "
                               'dataset does not load'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['base_batch_size 16 -> 8 and lr 0.01 -> 0.005: the original BAGS '
            'HTC trains 8 x 1 at 0.005',
            'score_thr 0.0001 -> 0.001']},
 {'config': 'configs/bags/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400_bags_1x_lvis-v1.py',
  'method': 'BAGS',
  'original': 'bags/gs_htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_lvis-v1/epoch_20.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'num_classes': (1203,
                              "LVIS v1 port: 1203 classes instead of v0.5's "
                              '1230'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.0.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.1.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.2.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'stand-in: no semantic branch (loss_seg x0.2): '
                               "it needs COCO-stuff maps, which mmlt's LVIS "
                               'dataset does not load'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['base_batch_size 16 -> 8 and lr 0.01 -> 0.005: the original BAGS '
            'HTC trains 8 x 1 at 0.005',
            'score_thr 0.0001 -> 0.001'],
  'note': 'LVIS v1 port of the v0.5 original'},
 {'config': 'configs/bags/mask-rcnn_r50_fpn_bags_1x_lvis-v0.5.py',
  'method': 'BAGS',
  'original': 'bags/gs_mask_rcnn_r50_fpn_1x_lvis',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/mask-rcnn_r50_fpn_1x_lvis-v0.5/epoch_12.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=L1Loss*1, '
                               'roi_head.bbox_head.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.loss_bbox=L1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1',
                               'inherited from the LVIS v1 stage-1 config (L1 '
                               'box losses, eqlv2/mmdet 2.x); frozen in stage '
                               '2, so they do not train')},
  'fixed': ['train_scale 1333x[640..800 step 32] -> 1333x800',
            'score_thr 0.0001 -> 0.001'],
  'note': 'stage 1 is the ImageNet-started '
          'configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v0.5.py (another recipe); '
          'the original BAGS Mask R-CNN starts from a COCO-initialised '
          'baseline'},
 {'config': 'configs/bags/mask-rcnn_r50_fpn_bags_1x_lvis-v1.py',
  'method': 'BAGS',
  'original': 'bags/gs_mask_rcnn_r50_fpn_1x_lvis',
  'differs': {'pretrained': (None,
                             'stage 2: every weight comes from load_from (the '
                             'original also overwrote its ImageNet init with '
                             'load_from); no ImageNet download'),
              'load_from': ('work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
                            "mmlt's work-dir layout: the last epoch of the "
                            "mmlt stage-1 config (same role as the original's "
                            'latest.pth of its baseline)'),
              'num_classes': (1203,
                              "LVIS v1 port: 1203 classes instead of v0.5's "
                              '1230'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=L1Loss*1, '
                               'roi_head.bbox_head.loss_cls=GroupSoftmaxLoss*1, '
                               'roi_head.bbox_head.loss_bbox=L1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1',
                               'inherited from the LVIS v1 stage-1 config (L1 '
                               'box losses, eqlv2/mmdet 2.x); frozen in stage '
                               '2, so they do not train')},
  'fixed': ['train_scale 1333x[640..800 step 32] -> 1333x800',
            'score_thr 0.0001 -> 0.001'],
  'note': 'LVIS v1 port of the v0.5 original'},
 {'config': 'configs/lvis/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/cascade_rcnn_x101_64x4d_fpn_1x_lvis',
  'differs': {'pretrained': (None,
                             'every weight comes from the COCO checkpoint of '
                             'CheckpointInitHook, which errors if one is '
                             'missing; no ImageNet download'),
              'load_from': (None,
                            'deliberate: the COCO checkpoint (the mmdet '
                            '2.x/3.x model-zoo equivalent, URL in the config) '
                            'is loaded by CheckpointInitHook (custom_hooks), '
                            'which re-initialises the class-count layers and '
                            'names them in the log, instead of load_from '
                            '(mmengine would silently skip mismatched '
                            'shapes)'),
              'detector': ('CascadeRCNN: CascadeRoIHead, Shared2FCBBoxHead, '
                           'FCNMaskHead',
                           "deliberate: mmlt's Cascade config is Cascade Mask "
                           'R-CNN (box and mask AP on LVIS); the original is '
                           'box-only Cascade R-CNN'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'the mask branch of Cascade Mask R-CNN '
                               '(loss_mask x1); see detector'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['lr 0.02 -> 0.01, clip_grad None -> 35, warm-up from 0.001 -> '
            'from 1/3',
            'train_scale 1333x[640..800 step 32] -> 1333x800',
            'score_thr 0.0001 -> 0.001',
            'start: ImageNet -> the COCO Cascade Mask R-CNN X101 20e '
            '(CheckpointInitHook); the ImageNet start moved to the '
            'imagenet-init config']},
 {'config': 'configs/lvis/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v1.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/cascade_rcnn_x101_64x4d_fpn_1x_lvis',
  'differs': {'load_from': (None,
                            'LVIS v1 port: starts from ImageNet (like the '
                            'eqlv2 LVIS v1 baselines); the v0.5 config starts '
                            'from COCO like the original'),
              'detector': ('CascadeRCNN: CascadeRoIHead, Shared2FCBBoxHead, '
                           'FCNMaskHead',
                           "deliberate: mmlt's Cascade config is Cascade Mask "
                           'R-CNN (box and mask AP on LVIS); the original is '
                           'box-only Cascade R-CNN'),
              'num_classes': (1203,
                              "LVIS v1 port: 1203 classes instead of v0.5's "
                              '1230'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'the mask branch of Cascade Mask R-CNN '
                               '(loss_mask x1); see detector'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['lr 0.02 -> 0.01, clip_grad None -> 35, warm-up from 0.001 -> '
            'from 1/3',
            'train_scale 1333x[640..800 step 32] -> 1333x800',
            'score_thr 0.0001 -> 0.001'],
  'note': 'LVIS v1 port of the v0.5 original'},
 {'config': 'configs/lvis/cascade-mask-rcnn_x101-64x4d_fpn_imagenet-init_1x_lvis-v0.5.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/cascade_rcnn_x101_64x4d_fpn_1x_lvis',
  'differs': {'load_from': (None,
                            'deliberate variant: ImageNet start (the default '
                            'config starts from COCO like the original)'),
              'detector': ('CascadeRCNN: CascadeRoIHead, Shared2FCBBoxHead, '
                           'FCNMaskHead',
                           "deliberate: mmlt's Cascade config is Cascade Mask "
                           'R-CNN (box and mask AP on LVIS); the original is '
                           'box-only Cascade R-CNN'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'the mask branch of Cascade Mask R-CNN '
                               '(loss_mask x1); see detector'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['new: the former v0.5 config (ImageNet start) with the recipe '
            'fixes']},
 {'config': 'configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v0.5.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/faster_rcnn_r50_fpn_1x_lvis',
  'differs': {'pretrained': (None,
                             'every weight comes from the COCO checkpoint of '
                             'CheckpointInitHook, which errors if one is '
                             'missing; no ImageNet download'),
              'load_from': (None,
                            'deliberate: the COCO checkpoint (the mmdet '
                            '2.x/3.x model-zoo equivalent, URL in the config) '
                            'is loaded by CheckpointInitHook (custom_hooks), '
                            'which re-initialises the class-count layers and '
                            'names them in the log, instead of load_from '
                            '(mmengine would silently skip mismatched '
                            'shapes)'),
              'val_interval': (12,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['lr 0.02 -> 0.01, clip_grad None -> 35, warm-up from 0.001 -> '
            'from 1/3 (the mmdet v1 schedule of the original)',
            'train_scale 1333x[640..800 step 32] -> 1333x800; box losses L1 '
            '-> SmoothL1 (rpn beta 1/9, rcnn beta 1)',
            'score_thr 0.0001 -> 0.0',
            'start: ImageNet -> the COCO Faster R-CNN R50 2x '
            '(CheckpointInitHook); the ImageNet start moved to '
            'faster-rcnn_r50_fpn_imagenet-init_1x_lvis-v0.5.py']},
 {'config': 'configs/lvis/faster-rcnn_r50_fpn_imagenet-init_1x_lvis-v0.5.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/faster_rcnn_r50_fpn_1x_lvis',
  'differs': {'load_from': (None,
                            'deliberate variant: ImageNet start (the default '
                            'config starts from COCO like the original)'),
              'val_interval': (12,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['new: the former faster-rcnn_r50_fpn_1x_lvis-v0.5.py (ImageNet '
            'start) with the recipe fixes of that config']},
 {'config': 'configs/lvis/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_lvis-v0.5.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis',
  'differs': {'pretrained': (None,
                             'every weight comes from the COCO checkpoint of '
                             'CheckpointInitHook, which errors if one is '
                             'missing; no ImageNet download'),
              'load_from': (None,
                            'deliberate: the COCO checkpoint (the mmdet '
                            '2.x/3.x model-zoo equivalent, URL in the config) '
                            'is loaded by CheckpointInitHook (custom_hooks), '
                            'which re-initialises the class-count layers and '
                            'names them in the log, instead of load_from '
                            '(mmengine would silently skip mismatched '
                            'shapes)'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.0.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.1.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.2.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'stand-in: no semantic branch (loss_seg x0.2): '
                               "it needs COCO-stuff maps, which mmlt's LVIS "
                               'dataset does not load'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ["the v1 config's fixes (8 x 1 at lr 0.01, warm-up, test settings)",
            'start: ImageNet -> the COCO HTC X101-DCN MS 20e '
            '(CheckpointInitHook, semantic branch dropped); the ImageNet '
            'start moved to the imagenet-init config']},
 {'config': 'configs/lvis/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_lvis-v1.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis',
  'differs': {'load_from': (None,
                            'LVIS v1 port: starts from ImageNet (like the '
                            'eqlv2 LVIS v1 baselines); the v0.5 config starts '
                            'from COCO like the original'),
              'num_classes': (1203,
                              "LVIS v1 port: 1203 classes instead of v0.5's "
                              '1230'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.0.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.1.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.2.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'stand-in: no semantic branch (loss_seg x0.2): '
                               "it needs COCO-stuff maps, which mmlt's LVIS "
                               'dataset does not load'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['base_batch_size 16 -> 8 (8 GPUs x 1 image) and lr 0.02 -> 0.01: '
            'the original trains 8 x 1 at 0.01; before, dist_train.sh 8 '
            'trained 8 images at the lr of 16',
            'warm-up from 0.001 -> from 1/3, clip_grad 35',
            'score_thr 0.0001 -> 0.001, max_per_img 300 -> 100'],
  'note': 'LVIS v1 port of the v0.5 original'},
 {'config': 'configs/lvis/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_imagenet-init_lvis-v0.5.py',
  'method': 'BAGS baselines (stage 1)',
  'original': 'bags/baselines/htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis',
  'differs': {'load_from': (None,
                            'deliberate variant: ImageNet start (the default '
                            'config starts from COCO like the original)'),
              'loss_weights': ('rpn_head.loss_cls=CrossEntropyLoss*1, '
                               'rpn_head.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.0.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.0.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.1.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.1.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.bbox_head.2.loss_cls=CrossEntropyLoss*1, '
                               'roi_head.bbox_head.2.loss_bbox=SmoothL1Loss*1, '
                               'roi_head.mask_head.0.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.1.loss_mask=CrossEntropyLoss*1, '
                               'roi_head.mask_head.2.loss_mask=CrossEntropyLoss*1, '
                               'stages=[1, 0.5, 0.25]',
                               'stand-in: no semantic branch (loss_seg x0.2): '
                               "it needs COCO-stuff maps, which mmlt's LVIS "
                               'dataset does not load'),
              'val_interval': (1,
                               'deliberate: mmlt validates every epoch; the '
                               'original trains without --validate (no '
                               'evaluation); set train_cfg.val_interval to '
                               'skip')},
  'fixed': ['new: the former v0.5 config (ImageNet start) with the v1 '
            "config's fixes"]}]
