# Init of a bbox head whose classifier is sigmoid (EQL, EQLv2): fc_cls bias =
# -log((1 - pi) / pi) with prior pi = 0.001, so every class starts at
# p = 0.001 instead of 0.5. An explicit init_cfg replaces the head's default
# list, so the fc_reg and shared-fc entries are spelled out too. Use with
#   bbox_head=dict(init_cfg={{_base_.sigmoid_prior_init}})
sigmoid_prior_init = [
    dict(
        type='Normal', std=0.01, bias_prob=0.001,
        override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
    dict(
        type='Xavier',
        distribution='uniform',
        override=[
            dict(name='shared_fcs'),
            dict(name='cls_fcs'),
            dict(name='reg_fcs')
        ])
]
