# ../db_focal_uniform.py fine-tuned from the pre-trained toy backbone (see bce.py here).
_base_ = '../db_focal_uniform.py'
model = dict(backbone=dict(init_cfg={{_base_.pretrained_backbone}}))
optim_wrapper = dict(optimizer=dict(lr=0.1))
