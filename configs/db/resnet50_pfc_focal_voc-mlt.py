# VOC-MLT, ResNet-50 + PFC, 224 x 224, batch 32 (8 GPUs x 4,
# SyncBN neck), lr 0.02, 8 epochs, seed 1:
# sigmoid focal loss (gamma 2, balance 2), uniform sampling.
_base_ = [
    '../_base_/datasets/voc_mlt.py', '../_base_/db/resnet50_pfc_8e.py'
]
model = dict(
    num_classes=20,
    loss_cls=dict(
        type='DistributionBalancedLoss',
        reweight_func=None,
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict()))
