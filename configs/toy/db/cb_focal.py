# Toy multi-label set, class-balanced focal loss (effective number, beta
# 0.9, the sample's mean over its positive classes: the original's
# CB_mode='average_w'), uniform sampling (the DB paper's "CB-Focal").
_base_ = './bce.py'
model = dict(
    loss_cls=dict(
        _delete_=True,
        type='DistributionBalancedLoss',
        reweight_func='CB',
        CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(),
        ann_file={{_base_.train_ann}}))
