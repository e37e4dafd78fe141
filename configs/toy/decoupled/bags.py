# BAGS (Balanced Group Softmax, Li et al. CVPR 2020) stage 2 on the toy set:
# from the stage-1 CE checkpoint, only fc_cls is trained, re-initialised
# because it grows from C+1 = 61 to C+1+G = 65 logits (groups by training
# instance count: <10, [10,100), [100,1000) + background; the toy set has
# no class with >= 1000 instances, so that bin is dropped). "Others" are
# sub-sampled to 8x the positives of each group (seeded by the runner).
_base_ = './stage2_base.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='GroupSoftmaxLoss',
                num_classes={{_base_.num_classes}},
                others_sample_ratio=8.0,
                label_mapping=dict(
                    type='GroupSoftmaxLabelMapping',
                    num_classes={{_base_.num_classes}},
                    ann_file='data/toy_lvis/annotations/lvis_v1_train.json',
                    bin_edges=(10, 100, 1000))))))
decoupled = dict(reinit=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'])
