# tau-norm-select (mmlt's definition): tau-norm applied only to the rows of
# the rare and common classes (r/c groups from mmlt's class statistics of the
# training annotations); frequent and background rows and all biases stay.
#   python tools/misc/tau_norm.py work_dirs/toy_decoupled/stage1.pth \
#       --tau 1.0 --select r c --out work_dirs/toy_decoupled/tau_norm_select.pth
#   ./tools/dist_test.sh configs/toy/decoupled/tau_norm_select.py \
#       work_dirs/toy_decoupled/tau_norm_select.pth 2 --eval bbox segm
_base_ = '../mask-rcnn_r18_fpn_toy_ce.py'
