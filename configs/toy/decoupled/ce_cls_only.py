# Control for the stage-2 recipes: the same stage-2 schedule
# (stage2_base.py: fc_cls only, 4 epochs, lr 0.01) with plain softmax CE,
# the stage-1 classifier as the start (no reinit) and the default shuffled
# sampler. What a recipe gains over this row is the recipe, not the extra
# classifier epochs.
_base_ = './stage2_base.py'
decoupled = dict(reinit=[])
