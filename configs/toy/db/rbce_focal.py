# Toy multi-label set, R-BCE-Focal: class-aware sampling (cas.py) +
# re-balanced weighting (alpha 0.1, beta 10, mu 0.2) + focal, no NTR.
_base_ = './cas.py'
model = dict(
    loss_cls=dict(
        _delete_=True,
        type='DistributionBalancedLoss',
        reweight_func='rebalance',
        map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(),
        ann_file={{_base_.train_ann}}))
