# COCO-MLT, ResNet-50 + PFC, 224 x 224, batch 32 (8 GPUs x 4,
# SyncBN neck), lr 0.02, 8 epochs, seed 1:
# class-balanced focal loss (effective number, beta 0.9,
# CB_mode average_w), uniform sampling.
_base_ = [
    '../_base_/datasets/coco_mlt.py', '../_base_/db/resnet50_pfc_8e.py'
]
freq_file = 'data/coco/longtail2017/class_freq.json'  # tools/create_longtail_dataset.py
model = dict(
    num_classes=80,
    loss_cls=dict(
        type='DistributionBalancedLoss',
        reweight_func='CB',
        CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(),
        freq_file=freq_file))
