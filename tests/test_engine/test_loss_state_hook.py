"""LossStateLoggerHook with a fake runner and real EQLv2 losses."""
import warnings
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub

from mmdet.registry import HOOKS
from mmlt.engine.hooks import LossStateLoggerHook
from mmlt.models.losses import EqualizationLossV2

_HUB = [0]


class Head(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.loss_cls = EqualizationLossV2(num_classes=c)


def fake_runner(model, it=0, dataset=None):
    _HUB[0] += 1
    hub = MessageHub.get_instance(f'test_loss_state_hook_{_HUB[0]}')
    return SimpleNamespace(model=model,
                           iter=it,
                           message_hub=hub,
                           train_dataloader=SimpleNamespace(dataset=dataset))


def set_ratio(loss, values):
    loss.pos_neg.copy_(torch.tensor(values, dtype=torch.float64))


def expected_neg_w(ratio):
    g = torch.tensor(ratio, dtype=torch.float64)
    return 1 / (1 + torch.exp(-12 * (g - 0.8)))


def test_logs_group_means_every_interval():
    model = nn.Module()
    model.roi_head = Head(4)
    set_ratio(model.roi_head.loss_cls, [0., 1., 2., 0.5])
    hook = HOOKS.build(
        # mmdet scope: a Runner built by an earlier test may have left the
        # process-wide default scope at 'mmengine'
        dict(type='LossStateLoggerHook', _scope_='mmdet',
             interval=2,
             groups=['r', 'c', 'f', 'r']))
    runner = fake_runner(model, it=0)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)  # iter 1: not a multiple of 2
    assert 'train/eqlv2_neg_w_r' not in runner.message_hub.log_scalars
    runner.iter = 1
    hook.after_train_iter(runner, 1)
    scalars = runner.message_hub.log_scalars
    neg = expected_neg_w([0., 1., 2., 0.5])
    assert scalars['train/eqlv2_neg_w_r'].current() == pytest.approx(
        float(neg[[0, 3]].mean()))
    assert scalars['train/eqlv2_pos_w_f'].current() == pytest.approx(
        float(1 + 4 * (1 - neg[2])))
    assert scalars['train/eqlv2_grad_ratio_c'].current() == pytest.approx(1.)


def test_groups_from_dataset_class_stats_and_several_losses():
    stats = SimpleNamespace(groups=['f', 'r', 'r'])
    inner = SimpleNamespace(class_stats=stats)
    dataset = SimpleNamespace(dataset=inner)  # a wrapper around it
    model = nn.Module()
    model.stage0 = Head(3)
    model.stage1 = Head(3)
    set_ratio(model.stage0.loss_cls, [2., 0., 0.])
    hook = LossStateLoggerHook(interval=1)
    runner = fake_runner(model, dataset=dataset)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    scalars = runner.message_hub.log_scalars
    assert scalars['train/eqlv20_grad_ratio_f'].current() == 2.0
    assert scalars['train/eqlv20_grad_ratio_r'].current() == 0.0
    assert scalars['train/eqlv21_grad_ratio_r'].current() == 100.0


def test_no_groups_logs_all_and_no_module_warns():
    model = nn.Module()
    model.head = Head(3)
    hook = LossStateLoggerHook(interval=1)
    runner = fake_runner(model)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    assert runner.message_hub.log_scalars['train/eqlv2_neg_w_all'].current(
    ) == pytest.approx(1.0)

    # groups of a different class count fall back to 'all' with a warning
    hook = LossStateLoggerHook(interval=1, groups=['r', 'f'])
    hook.before_train(runner)
    with pytest.warns(UserWarning, match='2 class groups'):
        hook.after_train_iter(runner, 0)

    hook = LossStateLoggerHook()
    with pytest.warns(UserWarning, match='logs nothing'):
        hook.before_train(fake_runner(nn.Linear(2, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        hook.after_train_iter(fake_runner(nn.Linear(2, 2), it=49), 49)
