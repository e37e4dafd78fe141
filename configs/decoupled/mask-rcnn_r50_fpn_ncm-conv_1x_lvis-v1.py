# NCM on the 256-d RoI-aligned FPN feature averaged over its 7x7 bins
# ("conv" feature) instead of the shared-fc output; commands as in
# mask-rcnn_r50_fpn_ncm-fc_1x_lvis-v1.py with this config.
_base_ = './mask-rcnn_r50_fpn_ncm-fc_1x_lvis-v1.py'
model = dict(roi_head=dict(bbox_head=dict(feature='conv')))
# Test-time only: `posthoc` is the tool command that writes the tested
# checkpoint ({stage1}: the stage-1 checkpoint, {config}: this file,
# {out}: the checkpoint written); tools/misc/smoke_configs.py runs it.
posthoc = dict(
    stage1='work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
    command=['tools/misc/ncm.py', '{config}', '{stage1}', '--feature',
             'conv', '--out', '{out}'])
