# Toy multi-label set, NTR-Focal: class-aware sampling (cas.py) +
# negative-tolerant regularisation (kappa 0.05, lambda 2) + focal, no
# re-weighting.
_base_ = './cas.py'
model = dict(
    loss_cls=dict(
        _delete_=True,
        type='DistributionBalancedLoss',
        reweight_func=None,
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(neg_scale=2.0, init_bias=0.05),
        ann_file={{_base_.train_ann}}))
