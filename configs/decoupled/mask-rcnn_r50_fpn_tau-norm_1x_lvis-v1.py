# tau-norm (Kang et al. ICLR 2020), post-hoc on the LVIS v1 softmax CE Mask
# R-CNN R50-FPN 1x: every foreground row of fc_cls becomes
# w_j / ||w_j||^tau, biases kept. Same model as stage 1; the tool writes
# the checkpoint:
#   python tools/misc/tau_norm.py work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth \
#       --tau 1.0 --select r c f --out work_dirs/tau-norm_lvis-v1/tau_norm.pth
#   ./tools/dist_test.sh configs/decoupled/mask-rcnn_r50_fpn_tau-norm_1x_lvis-v1.py \
#       work_dirs/tau-norm_lvis-v1/tau_norm.pth 8 --eval bbox segm
# (--tau-sweep 0 0.25 0.5 0.75 1 prints the row norms per r/c/f group)
# As the BAGS repo's tools/test_lvis_tnorm.py, the background row keeps its
# norm (--select r c f; normalising it too costs ~6 AP on the toy set).
_base_ = '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py'
# the BAGS repo's test settings (configs/_base_/decoupled/bags_transferred.py)
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0)))
# Test-time only: `posthoc` is the tool command that writes the tested
# checkpoint ({stage1}: the stage-1 checkpoint, {config}: this file,
# {out}: the checkpoint written); tools/misc/smoke_configs.py runs it.
posthoc = dict(
    stage1='work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
    command=['tools/misc/tau_norm.py', '{stage1}', '--tau', '1.0',
             '--select', 'r', 'c', 'f', '--out', '{out}'])
