"""Recipe table: loce (originals: fcjian/LOCE@0a0194d1b4, mmdet 2.8).

Stage 1 configs of the original are self-contained (no ``_base_``) except
the R101 one; stage 2 configs inherit their stage 1. Facts below are those
files translated into mmlt's vocabulary (``mmlt.utils.recipe.FACT_KEYS``).
"""
from _common import derive

REPO = 'fcjian/LOCE@0a0194d1b4'

# configs/loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py
# (README: ./tools/dist_train.sh CONFIG 8, "16 images in a mini-batch")
STAGE1_R50_V1 = dict(
    gpus=8,
    imgs_per_gpu=2,  # data.samples_per_gpu
    batch=16,
    optimizer='SGD',
    lr=0.02,
    momentum=0.9,
    weight_decay=0.0001,
    paramwise=None,
    clip_grad=None,  # optimizer_config = dict(grad_clip=None)
    amp=False,
    schedule='24 ep',
    lr_decay='step [16, 22] ep x0.1',
    warmup='500 it linear from 0.001',
    backbone='ResNet-50 pytorch',
    pretrained='torchvision://resnet50',
    frozen_stages=1,
    backbone_norm='BN eval',  # BN requires_grad=True, norm_eval=True
    load_from=None,
    trainable=None,
    detector='MaskRCNN: StandardRoIHead, Shared2FCBBoxHead, FCNNormMaskHead',
    num_classes=1203,
    loss_cls='CrossEntropyLoss(use_sigmoid=False)',
    loss_weights=(
        'rpn_head.loss_cls=CrossEntropyLoss*1, rpn_head.loss_bbox=L1Loss*1, '
        'roi_head.bbox_head.loss_cls=CrossEntropyLoss*1, '
        'roi_head.bbox_head.loss_bbox=L1Loss*1, '
        'roi_head.mask_head.loss_mask=CrossEntropyLoss*1'),
    # Resize img_scale (1333, 640..800 step 32), multiscale_mode='value'
    train_scale='1333x[640..800 step 32]',
    flip=0.5,
    test_scale='1333x800',  # MultiScaleFlipAug (1333, 800), flip=False
    # LVISV1Dataset (mmdet 2.8), no ClassBalancedDataset; the group sampler
    # of mmdet 2.x = uniform shuffling with aspect-ratio batches
    sampler='uniform',
    filter_empty_gt=True,  # CustomDataset default
    roi_sampler='RandomSampler 512 pos 0.25',
    score_thr=0.0001,
    max_per_img=300,
    nms='nms 0.5',
    val_interval=12,  # evaluation = dict(interval=12)
    ema=None,
    seed=None,
)

# selectp=1 (tools/train.py::select_training_param): a parameter trains iff
# its name contains 'fc_cls', 'fc_reg', 'rpn' or 'mask_head'. On the mmdet 3
# Mask R-CNN these substrings select exactly the parameters of mmlt's
# regexes (checked on the built model: the same 22 tensors).
SELECTP_1 = (r'roi_head\.bbox_head\.(\d+\.)?fc_(cls|reg)\.; rpn_head\.; '
             r'roi_head\.mask_head\.')

# configs/loce/loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py
STAGE2_R50_V1 = derive(
    STAGE1_R50_V1,
    schedule='6 ep',  # total_epochs = 6
    lr_decay='step [3, 5] ep x0.1',
    load_from=('./work_dirs/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1'
               '/epoch_24.pth'),
    trainable=SELECTP_1,
    detector=('MaskRCNN: LoceRoIHead, LoceShared2FCBBoxHead, '
              'FCNNormMaskHead'),
    # EquilibriumLoss(use_sigmoid=False) + train_cfg.rcnn alpha=0.9,
    # bg_score=0.01; mean score initialised to 0.01 (LoceRoIHead.__init__)
    loss_cls='EquilibriumLoss(alpha=0.9, bg_score=0.01, init_score=0.01)',
    loss_weights=(
        'rpn_head.loss_cls=CrossEntropyLoss*1, rpn_head.loss_bbox=L1Loss*1, '
        'roi_head.bbox_head.loss_cls=EquilibriumLoss*1, '
        'roi_head.bbox_head.loss_bbox=L1Loss*1, '
        'roi_head.mask_head.loss_mask=CrossEntropyLoss*1'),
    val_interval=6,  # evaluation = dict(interval=6)
)

ORIGINALS = {
    'loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1': dict(
        source=f'{REPO} configs/loce/'
               'mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py',
        reported=None,  # stage 1 only; LOCE numbers are stage 2's
        facts=STAGE1_R50_V1),
    'loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v0.5': dict(
        source=f'{REPO} configs/loce/'
               'mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v0.5.py',
        reported=None,
        facts=derive(STAGE1_R50_V1, num_classes=1230)),
    'loce/mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis_v1': dict(
        source=f'{REPO} configs/loce/'
               'mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis_v1.py '
               '(its _base_ mask_rcnn_r50_fpn_mstrain_2x_lvis_v1.py is '
               'missing from the repository; read as the R50 normed-mask '
               'stage 1)',
        reported=None,
        facts=derive(STAGE1_R50_V1, backbone='ResNet-101 pytorch',
                     pretrained='torchvision://resnet101')),
    'loce/loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1': dict(
        source=f'{REPO} configs/loce/'
               'loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1.py',
        reported='27.4 box AP / 26.6 mask AP',
        facts=STAGE2_R50_V1),
    'loce/loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v0.5': dict(
        source=f'{REPO} configs/loce/'
               'loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v0.5.py',
        reported='28.2 box AP / 28.4 mask AP',
        facts=derive(
            STAGE2_R50_V1, num_classes=1230,
            load_from=('./work_dirs/mask_rcnn_r50_fpn_normed_mask_mstrain_2x'
                       '_lvis_v0.5/epoch_24.pth'))),
    'loce/loce_mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis_v1': dict(
        source=f'{REPO} configs/loce/'
               'loce_mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis_v1.py',
        reported='29.0 box AP / 28.0 mask AP',
        facts=derive(
            STAGE2_R50_V1, backbone='ResNet-101 pytorch',
            pretrained='torchvision://resnet101',
            load_from=('./work_dirs/mask_rcnn_r101_fpn_normed_mask_mstrain_2x'
                       '_lvis_v1/epoch_24.pth'))),
}

# --- documented differences of stage 2 ---------------------------------
_WHY_LOAD = ("the same checkpoint: epoch 24 of this recipe's stage-1 "
             "config, under mmlt's config name")
_WHY_PRETRAINED = ('every weight comes from load_from (the original also '
                   'loads the ImageNet backbone first and then overwrites '
                   'it with load_from), so mmlt skips the download')
_WHY_DETECTOR = ("the original's LoceShared2FCBBoxHead is Shared2FCBBoxHead "
                 '(same layers and parameter names) that passes the mean '
                 "score to the loss; in mmlt EquilibriumLoss owns the mean "
                 'score, so the stock head serves')
_MFS_NOTE = ('MFS as the original (queue 80 per class, 8 classes x 4 '
             'features, 16 jittered boxes per GT, bank in host RAM, not '
             'synchronised across ranks) except fp16 storage (2.42 GB instead '
             'of 4.83 GB per process; features change by 2e-4 relative); '
             "alpha 0.9, background score 0.01, mean score init 0.01; the "
             "original's InitializerHook = MemoryBankInitHook (5 images per "
             'class and process)')


def _stage2_differs(load_from, pretrained_orig=True):
    d = {
        'load_from': (load_from, _WHY_LOAD),
        'detector': ('MaskRCNN: LoceRoIHead, Shared2FCBBoxHead, '
                     'FCNNormMaskHead', _WHY_DETECTOR),
    }
    if pretrained_orig:
        d['pretrained'] = (None, _WHY_PRETRAINED)
    return d


_FIX_S1_EVAL = ('train_cfg.val_interval 1 -> 12 (the original evaluates '
                'every 12 epochs: evaluation = dict(interval=12))')

ROWS = [
    dict(config='configs/loce/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py',
         method='LOCE',
         original='loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1',
         differs={},
         fixed=[_FIX_S1_EVAL],
         note='stage 1; FCNNormMaskHead scale 20 as the original'),
    dict(config='configs/loce/'
                'mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v0.5.py',
         method='LOCE',
         original='loce/mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v0.5',
         differs={},
         fixed=[_FIX_S1_EVAL],
         note='stage 1, LVIS v0.5'),
    dict(config='configs/loce/'
                'mask-rcnn_r101_fpn_normed-mask_ms-2x_lvis-v1.py',
         method='LOCE',
         original='loce/mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis_v1',
         differs={},
         fixed=[_FIX_S1_EVAL + ', inherited from the R50 config'],
         note=("stage 1, R101; the original's _base_ "
               '(mask_rcnn_r50_fpn_mstrain_2x_lvis_v1.py) does not exist in '
               'its repository, so its recipe is taken as the R50 '
               'normed-mask stage 1 it is named after and that stage 2 '
               'loads')),
    dict(config='configs/loce/'
                'loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py',
         method='LOCE',
         original='loce/loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis_v1',
         differs=_stage2_differs(
             'work_dirs/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1/'
             'epoch_24.pth'),
         fixed=[],
         note='stage 2; ' + _MFS_NOTE),
    dict(config='configs/loce/'
                'loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v0.5.py',
         method='LOCE',
         original=('loce/loce_mask_rcnn_r50_fpn_normed_mask_mstrain_2x_lvis'
                   '_v0.5'),
         differs=_stage2_differs(
             'work_dirs/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v0.5/'
             'epoch_24.pth'),
         fixed=[],
         note='stage 2, LVIS v0.5; MFS and loss settings as the v1 config'),
    dict(config='configs/loce/'
                'loce_mask-rcnn_r101_fpn_normed-mask_ms-2x_lvis-v1.py',
         method='LOCE',
         original=('loce/loce_mask_rcnn_r101_fpn_normed_mask_mstrain_2x_lvis'
                   '_v1'),
         differs=_stage2_differs(
             'work_dirs/mask-rcnn_r101_fpn_normed-mask_ms-2x_lvis-v1/'
             'epoch_24.pth'),
         fixed=[],
         note='stage 2, R101; MFS and loss settings as the R50 v1 config'),
]
