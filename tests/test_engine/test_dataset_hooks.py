"""RepeatFactorEpochHook and NumClassesCheckHook with fake runners."""
import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.dataset import InfiniteSampler
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmlt.datasets import RepeatFactorDataset
from mmlt.engine.hooks import (NumClassesCheckHook, NumClassesMismatchError,
                               RepeatFactorEpochHook)


class TinyDataset:
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return idx

    def get_cat_ids(self, idx):
        return [[0], [1], [1], []][idx]


def make_rfs():
    return RepeatFactorDataset(TinyDataset(), thr=0.5, rounding='stochastic')


def fake_runner(dataset, epoch=0, it=0, train_loop=None, sampler=None):
    loader = SimpleNamespace(dataset=dataset, sampler=sampler, batch_size=2)
    return SimpleNamespace(
        train_dataloader=loader,
        epoch=epoch,
        iter=it,
        train_loop=train_loop or SimpleNamespace(),
        logger=logging.getLogger('test'))


def test_epoch_hook_sets_epoch_through_wrappers():
    rfs = make_rfs()
    # ConcatDataset-like wrapper holding a RepeatDataset-like wrapper
    nested = SimpleNamespace(datasets=[TinyDataset(),
                                       SimpleNamespace(dataset=rfs)])
    hook = RepeatFactorEpochHook()
    runner = fake_runner(nested, epoch=3)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    assert rfs.epoch == 3
    runner.epoch = 4
    hook.before_train_epoch(runner)
    assert rfs.epoch == 4
    # epoch-based loop: before_train_iter leaves the epoch alone
    hook.before_train_iter(runner, batch_idx=0)
    assert rfs.epoch == 4


def test_epoch_hook_warns_once_without_rfs():
    hook = RepeatFactorEpochHook()
    runner = fake_runner(TinyDataset())
    with pytest.warns(UserWarning, match='no RepeatFactorDataset'):
        hook.before_train(runner)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        hook.before_train(runner)
        hook.before_train_epoch(runner)


def test_epoch_hook_iteration_based_loops():
    rfs = make_rfs()
    hook = RepeatFactorEpochHook()
    # finite sampler: mmengine's _InfiniteDataloaderIterator counts epochs
    iterator = SimpleNamespace(_epoch=0)
    runner = fake_runner(rfs, train_loop=SimpleNamespace(
        dataloader_iterator=iterator))
    hook.before_train_epoch(runner)
    iterator._epoch = 2
    hook.before_train_iter(runner, batch_idx=7)
    assert rfs.epoch == 2

    # InfiniteSampler: epoch = iter * batch * world // len(dataset)
    rfs2 = make_rfs()
    n = len(rfs2)
    runner = fake_runner(
        rfs2,
        it=n,  # n iters x 2 images = 2 passes over the data
        train_loop=SimpleNamespace(dataloader_iterator=iterator),
        sampler=InfiniteSampler(rfs2, seed=0))
    hook = RepeatFactorEpochHook()
    hook.before_train_iter(runner, batch_idx=n)
    assert rfs2.epoch == 2


class Head(nn.Module):

    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes


class FakeDetector(nn.Module):

    def __init__(self, n_bbox, n_mask, n_rpn=1, cascade=False):
        super().__init__()
        self.rpn_head = Head(n_rpn)
        self.roi_head = nn.Module()
        self.roi_head.bbox_head = nn.ModuleList(
            [Head(n_bbox), Head(n_bbox)]) if cascade else Head(n_bbox)
        self.roi_head.mask_head = Head(n_mask)


def check_runner(model, n_classes, split='train'):
    ds = SimpleNamespace(metainfo=dict(classes=tuple(
        f'c{i}' for i in range(n_classes))))
    runner = SimpleNamespace(model=model, logger=logging.getLogger('test'))
    setattr(runner, f'{split}_dataloader', SimpleNamespace(dataset=ds))
    return runner


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_num_classes_mismatch_names_key(split):
    hook = NumClassesCheckHook()
    runner = check_runner(FakeDetector(80, 60), 60, split)
    with pytest.raises(NumClassesMismatchError) as e:
        getattr(hook, f'before_{split}')(runner)
    msg = str(e.value)
    assert 'roi_head.bbox_head' in msg and 'num_classes=80' in msg
    assert '`model.roi_head.bbox_head.num_classes=60`' in msg
    assert 'SimpleNamespace' in msg and '60 classes' in msg
    assert 'mask_head' not in msg and 'rpn' not in msg


def test_num_classes_ok_and_cascade_keys():
    hook = NumClassesCheckHook()
    hook.before_train(check_runner(FakeDetector(60, 60, n_rpn=1), 60))
    hook.before_val(check_runner(FakeDetector(60, 60), 60, 'val'))
    runner = check_runner(FakeDetector(1203, 60, cascade=True), 60)
    with pytest.raises(NumClassesMismatchError) as e:
        hook.before_train(runner)
    assert 'model.roi_head.bbox_head.0.num_classes=60' in str(e.value)
    assert 'model.roi_head.bbox_head.1.num_classes=60' in str(e.value)


# ---------------------------------------------------------------- runner
SEEN = []


class IndexDataset:
    """10 images: f(class 0) = 0.1 so with t = 0.5 image 0 gets r = sqrt(5)."""
    metainfo = dict(classes=('a', 'b', 'c'))
    per_image = [[0], [1], [1], [2], [2], [2], [2], [2], [2], []]

    def __len__(self):
        return 10

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([float(idx)]))

    def get_cat_ids(self, idx):
        return self.per_image[idx]


class RecordingModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        SEEN.append([int(x.item()) for x in inputs])
        return dict(loss=self.w.sum() * 0)


@pytest.mark.parametrize('train_cfg', [
    dict(type='EpochBasedTrainLoop', max_epochs=3),
    dict(type='IterBasedTrainLoop', max_iters=3)
])
def test_epoch_hook_with_runner_and_persistent_workers(tmp_path, train_cfg):
    """Each (data) epoch must see its own stochastic table, although
    mmengine deep-copies the dataset and workers are persistent."""
    SEEN.clear()
    rfs = RepeatFactorDataset(IndexDataset(), thr=0.5, rounding='stochastic')
    n = len(rfs)
    runner = Runner(
        model=RecordingModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=rfs, batch_size=n, num_workers=1,
            persistent_workers=True,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        train_cfg=train_cfg,
        custom_hooks=[dict(type='RepeatFactorEpochHook')],
        default_hooks=dict(checkpoint=None),
        default_scope='mmdet')
    runner.train()
    assert SEEN == [rfs.epoch_indices(e).tolist() for e in range(3)]
