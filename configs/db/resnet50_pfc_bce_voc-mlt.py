# VOC-MLT, ResNet-50 + PFC, 224 x 224, batch 32 (8 GPUs x 4,
# SyncBN neck), lr 0.02, 8 epochs, seed 1:
# plain BCE, uniform sampling (the paper's ERM baseline).
_base_ = [
    '../_base_/datasets/voc_mlt.py', '../_base_/db/resnet50_pfc_8e.py'
]
model = dict(
    num_classes=20,
    loss_cls=dict(
        type='DistributionBalancedLoss',
        reweight_func=None,
        focal=dict(focal=False),
        logit_reg=dict()))
