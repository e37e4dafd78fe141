# Toy multi-label set, sigmoid focal loss (gamma 2, balance 2), uniform
# sampling (the "Focal" row of the DB paper).
_base_ = './bce.py'
model = dict(
    loss_cls=dict(
        _delete_=True,
        type='DistributionBalancedLoss',
        reweight_func=None,
        focal=dict(focal=True, balance_param=2.0, gamma=2),
        logit_reg=dict()))
