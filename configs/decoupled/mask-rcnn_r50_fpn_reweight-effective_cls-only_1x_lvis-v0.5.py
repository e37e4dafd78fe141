# Effective-number re-weighting (beta = 0.999), classifier only: the BAGS
# repo's "Re-weight-cls" baseline
# (FishYuLi/BalancedGroupSoftmax@90e04fd8cc configs/transferred/faster_rcnn_r50_fpn_1x_lvis_reweighthead_bours.py; reported 24.66
# bbox AP, Faster R50, LVIS v0.5). Recipe as
# ..._reweight-inverse_cls-only_1x_lvis-v0.5.py, except that the original runs
# 4 images per GPU (8 x 4 = 32) at the same lr 0.01.
_base_ = './mask-rcnn_r50_fpn_reweight-inverse_cls-only_1x_lvis-v0.5.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(loss_cls=dict(weighting='effective', beta=0.999))))
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(base_batch_size=32)
