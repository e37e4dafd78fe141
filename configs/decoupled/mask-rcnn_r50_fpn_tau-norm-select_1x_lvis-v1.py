# tau-norm-select (mmlt's definition): tau-norm only on the fc_cls rows of
# the rare and common classes (LVIS frequency groups of the training
# annotations, via mmlt's class statistics); frequent and background rows and
# all biases unchanged. Test-time config, the tool writes the checkpoint:
#   python tools/misc/tau_norm.py work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth \
#       --tau 1.0 --select r c --out work_dirs/tau-norm_lvis-v1/tau_norm_select.pth
#   ./tools/dist_test.sh configs/decoupled/mask-rcnn_r50_fpn_tau-norm-select_1x_lvis-v1.py \
#       work_dirs/tau-norm_lvis-v1/tau_norm_select.pth 8 --eval bbox segm
_base_ = '../lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py'
# the BAGS repo's test settings (configs/_base_/decoupled/bags_transferred.py)
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0)))
# Test-time only: `posthoc` is the tool command that writes the tested
# checkpoint ({stage1}: the stage-1 checkpoint, {config}: this file,
# {out}: the checkpoint written); tools/misc/smoke_configs.py runs it.
posthoc = dict(
    stage1='work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth',
    command=['tools/misc/tau_norm.py', '{stage1}', '--tau', '1.0',
             '--select', 'r', 'c', '--out', '{out}'])
