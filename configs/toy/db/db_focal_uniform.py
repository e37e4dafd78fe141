# Toy multi-label set, DB-Focal with uniform sampling: db_focal.py's loss
# (re-balanced weighting + NTR + focal, COCO-MLT values) on bce.py's plain
# sampler, to separate the loss from class-aware sampling (the original
# pairs DB with class-aware sampling; on the toy set that sampling alone
# costs the tail, see docs/db.md).
_base_ = './bce.py'
model = dict(
    loss_cls=dict(
        _delete_=True,
        type='DistributionBalancedLoss',
        reweight_func='rebalance',
        map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict(neg_scale=2.0, init_bias=0.05),
        ann_file={{_base_.train_ann}}))
