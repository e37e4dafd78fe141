# ../rbce_focal.py fine-tuned from the pre-trained toy backbone (see bce.py here).
_base_ = '../rbce_focal.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='work_dirs/toy_db_pt/pretrain.pth',
            prefix='backbone.')))
optim_wrapper = dict(optimizer=dict(lr=0.1))
