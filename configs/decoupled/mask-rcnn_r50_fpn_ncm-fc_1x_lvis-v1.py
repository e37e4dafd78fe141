# NCM (nearest class mean; Kang et al. ICLR 2020, the NCM baseline of BAGS)
# on the LVIS v1 softmax CE Mask R-CNN R50-FPN 1x, test-time only: class
# scores = softmax(20 * cos(f, mu_c)) over 1,203 class means and a background
# mean of the 1024-d shared-fc feature; box regression unchanged. The
# checkpoint comes from the tool (single process, one pass over train):
#   python tools/misc/ncm.py configs/decoupled/mask-rcnn_r50_fpn_ncm-fc_1x_lvis-v1.py \
#       work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth --out work_dirs/ncm_lvis-v1/ncm_fc.pth
#   ./tools/dist_test.sh configs/decoupled/mask-rcnn_r50_fpn_ncm-fc_1x_lvis-v1.py \
#       work_dirs/ncm_lvis-v1/ncm_fc.pth 8 --eval bbox segm
_base_ = '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(type='NCMBBoxHead', feature='fc', scale=20.0)),
    # the BAGS repo's test settings (configs/_base_/decoupled/bags_transferred.py)
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
# Test-time only: `posthoc` is the tool command that writes the tested
# checkpoint ({stage1}: the stage-1 checkpoint, {config}: this file,
# {out}: the checkpoint written); tools/misc/smoke_configs.py runs it.
posthoc = dict(
    stage1='work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
    command=['tools/misc/ncm.py', '{config}', '{stage1}', '--feature',
             'fc', '--out', '{out}'])
