# NCM on the 256-d RoI-aligned FPN feature averaged over its 7x7 bins
# ("conv" feature) instead of the shared-fc output; commands as in
# mask-rcnn_r50_fpn_ncm-fc_1x_lvis-v0.5.py with this config.
_base_ = './mask-rcnn_r50_fpn_ncm-fc_1x_lvis-v0.5.py'
model = dict(roi_head=dict(bbox_head=dict(feature='conv')))
