# Softmax CE baseline: HTC X101-64x4d-DCN-FPN, MS 400-1400, 20 epochs, no
# semantic branch, LVIS v0.5 (the stage-1 model of the BAGS HTC config).
# The recipe of the imagenet-init config (the BAGS baseline's, configs/
# baselines/htc_dconv_c3-c5_mstrain_400_1400_x101_64x4d_fpn_20e_lvis.py,
# reported 34.61 bbox / 31.94 mask AP on v0.5 val; 8 GPUs x 1 image at lr
# 0.01), started like the original from mmdet's COCO-trained HTC
# X101-64x4d-DCN MS 400-1400 20e. CheckpointInitHook loads it: the
# classifiers of the three stages (fc_cls, 81 -> 1231) and the mask
# predictors (conv_logits, 80 -> 1230) are re-initialised, the semantic
# branch (not in this model) is dropped, all named in the log; anything
# else that does not fit is an error. Train: ./tools/dist_train.sh CONFIG 8
_base_ = './htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-20e_imagenet-init_lvis-v0.5.py'
coco_checkpoint = (
    'https://download.openmmlab.com/mmdetection/v2.0/htc/'
    'htc_x101_64x4d_fpn_dconv_c3-c5_mstrain_400_1400_16x1_20e_coco/'
    'htc_x101_64x4d_fpn_dconv_c3-c5_mstrain_400_1400_16x1_20e_coco_'
    '20200312-946fd751.pth')
# every weight comes from the COCO checkpoint: no ImageNet download
model = dict(backbone=dict(init_cfg=None))
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='RNGStateHook'),
    dict(
        type='CheckpointInitHook',
        checkpoint=coco_checkpoint,
        reinit=[
            r'roi_head\.bbox_head\.\d+\.fc_cls\.',
            r'roi_head\.mask_head\.\d+\.conv_logits\.'
        ],
        drop=[r'roi_head\.semantic_(head|roi_extractor)\.'])
]
