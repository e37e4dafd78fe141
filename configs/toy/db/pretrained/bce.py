# bce.py fine-tuned from the pre-trained toy backbone (../pretrain.py, the
# stand-in for ImageNet pre-training; tools/benchmark/run_db_toy.sh
# PRETRAIN=1 trains it and links its checkpoint to `checkpoint` below).
# Backbone weights only (neck and classifier start fresh, as from an
# ImageNet checkpoint); lr 0.1 instead of the from-scratch 0.5, same
# 12-epoch schedule. The other configs of this folder do the same to their
# namesake in configs/toy/db/.
_base_ = '../bce.py'
model = dict(backbone=dict(init_cfg={{_base_.pretrained_backbone}}))
optim_wrapper = dict(optimizer=dict(lr=0.1))
