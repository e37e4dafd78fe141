# tau-norm (Kang et al. ICLR 2020), post-hoc: every row of the stage-1 toy CE
# classifier (background included) becomes w_j / ||w_j||^tau, biases kept.
# Same model as stage 1; the checkpoint comes from the tool:
#   python tools/misc/tau_norm.py work_dirs/toy_decoupled/stage1.pth \
#       --tau 1.0 --out work_dirs/toy_decoupled/tau_norm.pth
#   ./tools/dist_test.sh configs/toy/decoupled/tau_norm.py \
#       work_dirs/toy_decoupled/tau_norm.pth 2 --eval bbox segm
# (--tau-sweep 0 0.25 0.5 0.75 1 prints the row norms per r/c/f group)
_base_ = '../mask-rcnn_r18_fpn_toy_ce.py'
