# NCM on the RoI-aligned FPN feature averaged over the 7x7 bins (64-d for the
# toy model) instead of the shared-fc output; see ncm_fc.py for the commands
# (tools/misc/ncm.py configs/toy/decoupled/ncm_conv.py STAGE1 --out ...).
_base_ = './ncm_fc.py'
model = dict(roi_head=dict(bbox_head=dict(feature='conv')))
