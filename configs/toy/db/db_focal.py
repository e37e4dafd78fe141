# Toy multi-label set, DB-Focal: class-aware sampling (cas.py) +
# re-balanced weighting + NTR + focal, the COCO-MLT values (alpha 0.1,
# beta 10, mu 0.2; kappa 0.05, lambda 2; gamma 2, balance 2), which are
# DistributionBalancedLoss's defaults.
_base_ = './cas.py'
model = dict(
    loss_cls=dict(
        _delete_=True,
        type='DistributionBalancedLoss',
        reweight_func='rebalance',
        map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(neg_scale=2.0, init_bias=0.05),
        ann_file={{_base_.train_ann}}))
