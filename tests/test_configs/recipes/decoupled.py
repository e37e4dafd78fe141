"""Recipe table: decoupled (originals: tztztztztz/eqlv2@907fad905b
configs/decouple/{crt,lws}_r50_8x2_1x.py; FishYuLi/BalancedGroupSoftmax@
90e04fd8cc configs/transferred/*.py, configs/baselines/faster_rcnn_r50_fpn_
1x_lvis.py with tools/test_lvis_tnorm.py (tau-norm) and README rows (NCM)).

tau-norm follows the BAGS repo (tools/test_lvis_tnorm.py on its Faster R50
baseline), the only detection implementation among the originals; the
decoupling paper's code (classifier-balancing) is classification only."""
from _common import derive

EQLV2 = 'tztztztztz/eqlv2@907fad905b '
BAGS = 'FishYuLi/BalancedGroupSoftmax@90e04fd8cc '
CLS = r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'
LWS = r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.scales$'


def _weights(loss_cls, box='L1Loss', mask=True):
    s = (f'rpn_head.loss_cls=CrossEntropyLoss*1, rpn_head.loss_bbox={box}*1, '
         f'roi_head.bbox_head.loss_cls={loss_cls}*1, '
         f'roi_head.bbox_head.loss_bbox={box}*1')
    return s + (', roi_head.mask_head.loss_mask=CrossEntropyLoss*1'
                if mask else '')


# eqlv2 configs/decouple/crt_r50_8x2_1x.py over end2end/mask_rcnn_r50_8x2_1x
# -> mask_rcnn_r50_sample1e-3_8x2_1x -> lvis/mask_rcnn_r50_fpn_sample1e-3_
# mstrain_1x_lvis_v1 -> mmdet 2.x _base_ (mask_rcnn_r50_fpn, lvis_v1_instance,
# schedule_1x, default_runtime). One "epoch" = CASDataset(max_iter=75000*16).
CRT = dict(
    gpus=8, imgs_per_gpu=2, batch=16, optimizer='SGD', lr=0.02,
    momentum=0.9, weight_decay=0.0001, paramwise=None, clip_grad=None,
    amp=False, schedule='1 ep',
    lr_decay='step [50000, 70000] it x0.1',
    warmup='500 it linear from 0.001', backbone='ResNet-50 pytorch',
    pretrained='torchvision://resnet50', frozen_stages=4,
    backbone_norm='BN eval', load_from='r50_1x/model_reset_remove.pth',
    trainable=CLS,
    detector='MaskRCNN: StandardRoIHead, Shared2FCBBoxHead, FCNMaskHead',
    num_classes=1203, loss_cls='CrossEntropyLoss(use_sigmoid=False)',
    loss_weights=_weights('CrossEntropyLoss'),
    train_scale='1333x[640..800 step 32]', flip=0.5, test_scale='1333x800',
    sampler='ClassAwareDataset(num_samples=1200000, seed=0)',
    filter_empty_gt=True, roi_sampler='RandomSampler 512 pos 0.25',
    score_thr=0.0001, max_per_img=300, nms='nms 0.5', val_interval=1,
    ema=None, seed=None)
LWS_FACTS = derive(CRT, trainable=LWS,
                   load_from='r50_1x/model_reset_reset.pth')

# BAGS configs/transferred/*: one flat mmdet v1 file each (Faster R50-FPN,
# LVIS v0.5, num_classes=1231 incl. background -> 1230 here). Base: the
# classifier-only focal-loss file; the others derive.
T_LOAD = './work_dirs/faster_rcnn_r50_fpn_1x_lvis/latest.pth'
FOCAL_V1 = 'FocalLoss(alpha=0.25, gamma=2, use_sigmoid=True)'
FOCAL_CLS = dict(
    gpus=8, imgs_per_gpu=2, batch=16, optimizer='SGD', lr=0.01,
    momentum=0.9, weight_decay=0.0001, paramwise=None, clip_grad=35,
    amp=False, schedule='12 ep', lr_decay='step [8, 11] ep x0.1',
    warmup='500 it linear from 0.333333', backbone='ResNet-50 pytorch',
    pretrained='torchvision://resnet50', frozen_stages=1,
    backbone_norm='BN eval', load_from=T_LOAD, trainable=CLS,
    detector='FasterRCNN: StandardRoIHead, Shared2FCBBoxHead',
    num_classes=1230, loss_cls=FOCAL_V1,
    loss_weights=_weights('FocalLoss', 'SmoothL1Loss', mask=False),
    train_scale='1333x800', flip=0.5, test_scale='1333x800',
    sampler='uniform', filter_empty_gt=True,
    roi_sampler='RandomSampler 512 pos 0.25', score_thr=0.0,
    max_per_img=300, nms='nms 0.5', val_interval=None, ema=None, seed=None)
FOCAL_ALL = derive(FOCAL_CLS, trainable=None)
RW_INV = 'ClassWeightedCrossEntropyLoss(weighting=inverse)'
RW_EFF = 'ClassWeightedCrossEntropyLoss(beta=0.999, weighting=effective)'
RW_ALL = derive(FOCAL_ALL, loss_cls=RW_INV, loss_weights=_weights(
    'ClassWeightedCrossEntropyLoss', 'SmoothL1Loss', mask=False))
RW_HEAD = derive(RW_ALL, trainable=CLS)
RW_HEAD_BOURS = derive(RW_HEAD, imgs_per_gpu=4, batch=32, loss_cls=RW_EFF)
CE_W = _weights('CrossEntropyLoss', 'SmoothL1Loss', mask=False)
FINETUNE = derive(FOCAL_ALL, lr=0.0001, schedule='10 ep',
                  lr_decay='step [7] ep x0.1',
                  loss_cls='CrossEntropyLoss(use_sigmoid=False)',
                  loss_weights=CE_W)
# configs/baselines/faster_rcnn_r50_fpn_1x_lvis.py: the stage 1 that
# tau-norm (tools/test_lvis_tnorm.py) and NCM (README rows, no code) use
BASELINE = derive(FINETUNE, lr=0.01, schedule='12 ep',
                  lr_decay='step [8, 11] ep x0.1',
                  load_from='./data/download_models/'
                            'faster_rcnn_r50_fpn_2x_20181010-443129e1.pth')

ORIGINALS = {
    'eqlv2/crt_r50_8x2_1x': dict(
        source=EQLV2 + 'configs/decouple/crt_r50_8x2_1x.py',
        reported='LVIS v1 val mask AP 22.1 (APr 11.9 / APc 20.2 / '
                 'APf 29.0)',
        facts=CRT),
    'eqlv2/lws_r50_8x2_1x': dict(
        source=EQLV2 + 'configs/decouple/lws_r50_8x2_1x.py',
        reported='LVIS v1 val mask AP 17.0 (APr 2.0 / APc 13.5 / APf 27.4)',
        facts=LWS_FACTS),
    'bags/transferred/focalloss_all': dict(
        source=BAGS + 'configs/transferred/'
                      'faster_rcnn_r50_fpn_1x_lvis_focalloss_all.py',
        reported='LVIS v0.5 val bbox AP 11.12 (Faster R50-FPN)',
        facts=FOCAL_ALL),
    'bags/transferred/focalloss': dict(
        source=BAGS + 'configs/transferred/'
                      'faster_rcnn_r50_fpn_1x_lvis_focalloss.py',
        reported='LVIS v0.5 val bbox AP 19.29 (Faster R50-FPN)',
        facts=FOCAL_CLS),
    'bags/transferred/reweightall': dict(
        source=BAGS + 'configs/transferred/'
                      'faster_rcnn_r50_fpn_1x_lvis_reweightall.py',
        reported='LVIS v0.5 val bbox AP 23.48 (Faster R50-FPN)',
        facts=RW_ALL),
    'bags/transferred/reweighthead': dict(
        source=BAGS + 'configs/transferred/'
                      'faster_rcnn_r50_fpn_1x_lvis_reweighthead.py',
        reported=None,
        facts=RW_HEAD),
    'bags/transferred/reweighthead_bours': dict(
        source=BAGS + 'configs/transferred/'
                      'faster_rcnn_r50_fpn_1x_lvis_reweighthead_bours.py',
        reported='LVIS v0.5 val bbox AP 24.66 (Faster R50-FPN)',
        facts=RW_HEAD_BOURS),
    'bags/transferred/finetunefewshot': dict(
        source=BAGS + 'configs/transferred/'
                      'faster_rcnn_r50_fpn_1x_lvis_finetunefewshot.py',
        reported='LVIS v0.5 val bbox AP 22.28 (Faster R50-FPN)',
        facts=FINETUNE),
    'bags/transferred/tau_norm': dict(
        source=BAGS + 'tools/test_lvis_tnorm.py on configs/baselines/'
                      'faster_rcnn_r50_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 11.01 (Faster R50-FPN)',
        facts=BASELINE),
    'bags/transferred/tau_norm_select': dict(
        source=BAGS + 'tools/test_lvis_tnorm.py (bbox_head_back + '
                      'data/lvis/mask.pt) on configs/baselines/'
                      'faster_rcnn_r50_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 21.61 (Faster R50-FPN)',
        facts=BASELINE),
    'bags/transferred/ncm_fc': dict(
        source=BAGS + 'README row (10) NCM-fc (no code released) on '
                      'configs/baselines/faster_rcnn_r50_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 16.02 (Faster R50-FPN)',
        facts=BASELINE),
    'bags/transferred/ncm_conv': dict(
        source=BAGS + 'README row (11) NCM-conv (no code released) on '
                      'configs/baselines/faster_rcnn_r50_fpn_1x_lvis.py',
        reported='LVIS v0.5 val bbox AP 12.56 (Faster R50-FPN)',
        facts=BASELINE),
}

# --- reasons shared by many rows ----------------------------------------
CRT_SCHED = ('75000 it', "the original's one 75k-iteration epoch as an "
             'IterBasedTrainLoop over one pass of the class-aware table '
             '(exact mid-run resume)')
CRT_VAL = (75000, 'the same single evaluation, at the end, counted in '
                  'iterations')
NO_PRETRAIN = (None, 'every weight comes from load_from: no ImageNet '
                     'download')
MASK = ('MaskRCNN: StandardRoIHead, Shared2FCBBoxHead, FCNMaskHead',
        "mmlt runs BAGS's comparison on Mask R-CNN (the BAGS Mask R50 "
        'baseline architecture); the transferred originals are Faster '
        'R-CNN')
VAL12 = (12, 'the original trains without --validate and tests '
             'afterwards; mmlt evaluates once, after the last epoch')
V1_NC = (1203, 'LVIS v1 port of the v0.5 recipe (1,203 classes)')


def _lw(loss_cls, why):
    return (_weights(loss_cls), 'mask head of Mask R-CNN; L1 box losses '
            '(mmdet 3.x Mask R-CNN defaults) instead of mmdet v1 SmoothL1'
            + why)


def _stage1(v):
    return f'work_dirs/mask-rcnn_r50_fpn_1x_lvis-{v}/epoch_12.pth'


def _load(v):
    return (_stage1(v), f'stage 1 = configs/lvis/mask-rcnn_r50_fpn_1x_lvis-'
            f'{v}.py (mmlt softmax-CE Mask R-CNN, ImageNet start) instead of '
            "the BAGS repo's Faster R50 baseline (COCO start)")


SOFTMAX_FOCAL = ('SoftmaxFocalLoss(gamma=2)',
                 "stand-in: mmdet v1's sigmoid focal loss (alpha 0.25) has "
                 "no counterpart in mmdet 3's softmax BBoxHead; softmax "
                 'focal loss over C + 1, no alpha')


def _crt_rows(v, lws):
    cfg = f'configs/decoupled/mask-rcnn_r50_fpn_{"lws" if lws else "crt"}' \
          f'_1x_lvis-{v}.py'
    stage1 = ('work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
              if v == 'v1' else
              'work_dirs/mask-rcnn_r50_fpn_2x_lvis-v0.5/epoch_24.pth')
    how = ('fc_cls kept (LWSLinear loads the stage-1 W, b; scales start at '
           '1)' if lws else 'fc_cls dropped at load by decoupled.reinit '
           'instead of tools/ckpt_surgery.py --method remove')
    differs = {
        'schedule': CRT_SCHED, 'val_interval': CRT_VAL,
        'pretrained': NO_PRETRAIN,
        'load_from': (stage1, 'the stage-1 checkpoint itself; ' + how)}
    note = ("the original's DistributedGroupSampler shuffles the "
            'pre-drawn class-aware list; mmlt reads it in order '
            '(DefaultSampler(shuffle=False))')
    if v == 'v0.5':
        differs['num_classes'] = (
            1230, 'LVIS v0.5 port (the eqlv2 repo runs cRT/LWS on v1 '
                  'only); stage 1 is the v0.5 2x softmax-CE baseline')
    return dict(
        config=cfg, method='cRT / LWS',
        original=f'eqlv2/{"lws" if lws else "crt"}_r50_8x2_1x',
        differs=differs,
        fixed=['backbone.frozen_stages 1 -> 4 (the original freezes all '
               'stages; the runner froze them anyway)'] if not lws else [],
        note=note)


def _transferred(v, name, original, loss_cls, lw_name, extra=None,
                 fixed=(), note=None, cls_only=True):
    differs = {'detector': MASK,
               'loss_weights': _lw(lw_name, ''),
               'load_from': _load(v), 'pretrained': NO_PRETRAIN,
               'val_interval': VAL12}
    if loss_cls is not None:
        differs['loss_cls'] = loss_cls
    if v == 'v1':
        differs['num_classes'] = V1_NC
    differs.update(extra or {})
    return dict(config=f'configs/decoupled/mask-rcnn_r50_fpn_{name}_1x_'
                       f'lvis-{v}.py',
                method='Re-balancing baselines (BAGS comparison)',
                original=original, differs=differs, fixed=list(fixed),
                note=note)


STAGE2_FIX = ['train scale 1333x[640..800 step 32] -> 1333x800 (the '
              'original trains single-scale)',
              'test score_thr 0.0001 -> 0.0 (original test_cfg)',
              'val_interval 1 -> 12 (original: no evaluation during '
              'training)']
WHOLE_FIX = ['was a from-scratch (ImageNet) training with the baseline '
             'recipe; the original fine-tunes every parameter from the '
             'LVIS baseline: load_from stage 1, BAGS schedule (lr 0.02 -> '
             '0.01, warm-up from 0.001 -> 1/3, grad clip 35)'] + STAGE2_FIX


def _posthoc(v, name, original, detector=None, note=None):
    two_x = v == 'v0.5' and name.startswith('tau')
    sched = '2x' if two_x else '1x'
    if two_x:
        s1 = 'configs/lvis/mask-rcnn_r50_fpn_2x_lvis-v0.5.py'
    else:
        s1 = f'configs/lvis/mask-rcnn_r50_fpn_1x_lvis-{v}.py'
    why = f'stage-1 recipe ({s1}), the checkpoint this test-time config ' \
          'evaluates'
    differs = {
        'lr': (0.02, why), 'clip_grad': (None, why),
        'warmup': ('500 it linear from 0.001', why),
        'load_from': (None, why + "; the original's baseline starts from "
                      'a COCO Faster R-CNN'),
        'train_scale': ('1333x[640..800 step 32]', why),
        'val_interval': (12 if v == 'v1' else 1, why),
        'detector': (detector or MASK[0], MASK[1]),
        'loss_weights': _lw('CrossEntropyLoss', ''),
    }
    if two_x:
        differs['schedule'] = ('24 ep', why + ' (2x)')
        differs['lr_decay'] = ('step [16, 22] ep x0.1', why + ' (2x)')
    if v == 'v1':
        differs['num_classes'] = V1_NC
    return dict(config=f'configs/decoupled/mask-rcnn_r50_fpn_{name}_'
                       f'{sched}_lvis-{v}.py',
                method='Re-balancing baselines (BAGS comparison)',
                original=original, differs=differs,
                fixed=['test score_thr 0.0001 -> 0.0 (BAGS test_cfg)'],
                note=note)


TAU_NOTE = ("BAGS's tau-norm (tools/test_lvis_tnorm.py) skips the "
            'background row; tools/misc/tau_norm.py normalises it too')
TAU_SEL_NOTE = ("mmlt's definition: tau-norm of the r and c rows only; "
                "BAGS's select runs the plain and the tau-normed head and "
                'takes the whole tau-normed score row where the predicted '
                'class has < 100 training instances (data/lvis/mask.pt)')
NCM_NOTE = ('no original code: mmlt means from GT-box features (fg) and '
            'sampled RPN negatives (bg), cosine scale 20')

ROWS = []
for _v in ('v1', 'v0.5'):
    ROWS += [_crt_rows(_v, False), _crt_rows(_v, True)]
for _v in ('v1', 'v0.5'):
    ROWS += [
        _transferred(_v, 'focal', 'bags/transferred/focalloss_all',
                     SOFTMAX_FOCAL, 'SoftmaxFocalLoss', fixed=WHOLE_FIX,
                     cls_only=False),
        _transferred(_v, 'focal_cls-only', 'bags/transferred/focalloss',
                     SOFTMAX_FOCAL, 'SoftmaxFocalLoss', fixed=STAGE2_FIX),
        _transferred(_v, 'reweight-inverse', 'bags/transferred/reweightall',
                     None, 'ClassWeightedCrossEntropyLoss', fixed=WHOLE_FIX,
                     cls_only=False),
        _transferred(_v, 'reweight-effective',
                     'bags/transferred/reweightall',
                     (RW_EFF, 'mmlt variant: the effective-number weights '
                              "(BAGS's cls_weight_bours.pt) on the "
                              'whole-model recipe'),
                     'ClassWeightedCrossEntropyLoss', fixed=WHOLE_FIX,
                     cls_only=False),
        _transferred(_v, 'reweight-inverse_cls-only',
                     'bags/transferred/reweighthead', None,
                     'ClassWeightedCrossEntropyLoss', fixed=STAGE2_FIX),
        _transferred(_v, 'reweight-effective_cls-only',
                     'bags/transferred/reweighthead_bours', None,
                     'ClassWeightedCrossEntropyLoss',
                     fixed=['train_dataloader.batch_size 2 -> 4 and '
                            'auto_scale_lr.base_batch_size 16 -> 32 (the '
                            'original runs 8 x 4 images at lr 0.01)']
                     + STAGE2_FIX),
        _transferred(
            _v, 'finetune-tail_cls-only', 'bags/transferred/finetunefewshot',
            None, 'CrossEntropyLoss',
            extra={'trainable': (CLS, 'mmlt variant (cls-only): the '
                                      'original fine-tunes every parameter'),
                   'sampler': ('ClassSubsetDataset(groups=(r, c))',
                               "the original's config names the full "
                               'training file (its tail subset is not '
                               'released); mmlt keeps the images with a '
                               'rare or common instance'),
                   'val_interval': (10, VAL12[1])},
            fixed=['lr 0.01 -> 0.0001, schedule 12 -> 10 ep, steps [8, 11] '
                   '-> [7] (the original fine-tune schedule)']
            + STAGE2_FIX[:2] + ['val_interval 1 -> 10 (original: no '
                                'evaluation during training)']),
    ]
for _v in ('v1', 'v0.5'):
    ROWS += [
        _posthoc(_v, 'tau-norm', 'bags/transferred/tau_norm',
                 note=TAU_NOTE),
        _posthoc(_v, 'tau-norm-select', 'bags/transferred/tau_norm_select',
                 note=TAU_SEL_NOTE),
        _posthoc(_v, 'ncm-fc', 'bags/transferred/ncm_fc',
                 detector='MaskRCNN: StandardRoIHead, NCMBBoxHead, '
                          'FCNMaskHead', note=NCM_NOTE),
        _posthoc(_v, 'ncm-conv', 'bags/transferred/ncm_conv',
                 detector='MaskRCNN: StandardRoIHead, NCMBBoxHead, '
                          'FCNMaskHead', note=NCM_NOTE),
    ]
