# Fine-tune on tail, classifier only: stage 2 sees only the training images
# that contain at least one rare or common instance (ClassSubsetDataset,
# groups from the annotation file's LVIS frequency field); their other
# (frequent) annotations stay. Same schedule as the other stage-2 recipes,
# so fewer iterations (the subset is smaller than the 748 images).
_base_ = './stage2_base.py'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassSubsetDataset',
        groups=('r', 'c'),
        dataset={{_base_.train_dataloader.dataset}}))
