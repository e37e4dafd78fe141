# NCM (nearest class mean, Kang et al. ICLR 2020) on the toy stage-1 CE
# model, test-time only: class scores = softmax(s * cos(f, mu_c)) over the 60
# class means and a background mean of the shared-fc feature (256-d), box
# regression unchanged. The checkpoint comes from the tool:
#   python tools/misc/ncm.py configs/toy/decoupled/ncm_fc.py \
#       work_dirs/toy_decoupled/stage1.pth --out work_dirs/toy_decoupled/ncm_fc.pth
#   ./tools/dist_test.sh configs/toy/decoupled/ncm_fc.py \
#       work_dirs/toy_decoupled/ncm_fc.pth 2 --eval bbox segm
_base_ = '../mask-rcnn_r18_fpn_toy_ce.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(type='NCMBBoxHead', feature='fc', scale=20.0)))
