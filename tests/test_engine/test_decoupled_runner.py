"""DecoupledRunner on a tiny BN + Dropout classifier: frozen weights and BN
statistics stay bit-identical, only trainable parameters reach the
optimizer, locked modules stay in eval mode under ``model.train()``, reinit
applies to ``load_from`` but not to resume, clear errors; the same under
2-process gloo DDP with ``find_unused_parameters=False``."""
import itertools
import logging
import os

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import RUNNERS

from mmlt.engine.optimizers import TrainableOnlyOptimWrapperConstructor
from mmlt.engine.runner import (DecoupledRunner, FreezeError, is_eval_locked,
                                summarize_names)
from mmlt.testing import free_port

TRAIN_FC = [r'head\.fc_cls\.']
_RUN_ID = itertools.count()


class ToyHead(nn.Module):

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.fc_cls = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc_cls(self.drop(F.relu(self.bn(self.shared(x)))))


class ToyNet(BaseModel):
    """conv-BN-ReLU-Dropout backbone, Linear-BN-Dropout-Linear head."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Dropout(0.5))
        self.head = ToyHead()
        self.seen_training = []  # (module name, .training) inside forward

    def forward(self, inputs, label=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        if mode == 'loss':
            self.seen_training.append(
                (self.training, self.backbone[1].training,
                 self.backbone[3].training, self.head.bn.training))
        logits = self.head(self.backbone(x).mean((2, 3)))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, torch.as_tensor(label)))
        return logits


class ToyData(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, n=16):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 3, 6, 6, generator=g) * 2 + 1
        self.y = torch.arange(n) % 3

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], label=int(self.y[i]))


class RecordModes(Hook):
    """After each iteration: model.training and the locked modules' flag."""

    def __init__(self):
        self.modes = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        m = runner.model.module if hasattr(runner.model,
                                           'module') else runner.model
        self.modes.append((m.training, m.backbone[1].training,
                           m.backbone[3].training, m.head.drop.training))


def save_state(model, path):
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def make_runner(work_dir,
                decoupled,
                load_from=None,
                resume=False,
                max_iters=3,
                lr=0.1,
                model=None,
                launcher='none',
                hooks=(),
                optim_extra=None,
                name='run'):
    cfg = dict()
    if decoupled is not None:
        cfg['decoupled'] = decoupled
    if launcher != 'none':
        cfg['model_wrapper_cfg'] = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=False)
    optim = dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9,
                                weight_decay=1e-2))
    optim.update(optim_extra or {})
    return DecoupledRunner(
        model=model or ToyNet(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=optim,
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', interval=1, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=list(hooks),
        load_from=load_from,
        resume=resume,
        launcher=launcher,
        experiment_name=f'{name}_{os.getpid()}_{next(_RUN_ID)}',
        cfg=cfg)


def _stage1(tmp_path, seed=0):
    """A 'stage-1' checkpoint whose values differ from ToyNet() init."""
    model = ToyNet(seed=seed + 100)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    path = str(tmp_path / 'stage1.pth')
    save_state(model, path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------- freezing
def test_frozen_weights_and_bn_stats_bit_identical(tmp_path):
    ckpt, start = _stage1(tmp_path)
    rec = RecordModes()
    runner = make_runner(tmp_path / 'w', dict(trainable=TRAIN_FC),
                         load_from=ckpt, hooks=[rec])
    model = runner.model
    # freezing is done at construction, before any wrapping
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'head.fc_cls.weight', 'head.fc_cls.bias'}
    runner.train()

    after = model.state_dict()
    for k, v in start.items():
        if k.startswith('head.fc_cls.'):
            assert not torch.equal(after[k], v), f'{k} did not train'
        else:
            # weights, BN running_mean/var and num_batches_tracked
            assert torch.equal(after[k], v), f'{k} changed'
    # optimizer holds exactly the trainable parameters
    held = {
        id(p)
        for g in runner.optim_wrapper.optimizer.param_groups
        for p in g['params']
    }
    assert held == {id(model.head.fc_cls.weight), id(model.head.fc_cls.bias)}
    # model in train mode, locked BN/Dropout in eval, at every iteration
    # and inside every forward
    assert rec.modes == [(True, False, False, False)] * 3
    assert model.seen_training == [(True, False, False, False)] * 3
    for m in (model.backbone[1], model.backbone[3], model.head.bn,
              model.head.drop):
        assert is_eval_locked(m)
    # model.train() and a direct flag flip cannot unlock a frozen BN
    model.train()
    assert not model.backbone[1].training
    model.backbone[1].training = True
    x = torch.randn(2, 3, 6, 6)
    rm = model.backbone[1].running_mean.clone()
    model(x)
    assert torch.equal(model.backbone[1].running_mean, rm)


def test_bn_with_trainable_params_keeps_training(tmp_path):
    ckpt, start = _stage1(tmp_path)
    runner = make_runner(
        tmp_path / 'w',
        dict(trainable=TRAIN_FC + [r'head\.bn\.']),
        load_from=ckpt,
        max_iters=2)
    runner.train()
    model = runner.model
    assert model.head.bn.training and not is_eval_locked(model.head.bn)
    # a training BN updates its statistics; the locked one does not
    sd = model.state_dict()
    assert not torch.equal(sd['head.bn.running_mean'],
                           start['head.bn.running_mean'])
    assert torch.equal(sd['backbone.1.running_mean'],
                       start['backbone.1.running_mean'])
    # train_mode exempts a module from the lock
    runner2 = make_runner(
        tmp_path / 'w2',
        dict(trainable=TRAIN_FC, train_mode=[r'head\.drop$']),
        load_from=ckpt,
        name='r2')
    assert not is_eval_locked(runner2.model.head.drop)
    assert is_eval_locked(runner2.model.head.bn)


def test_without_decoupled_is_a_plain_runner(tmp_path):
    runner = make_runner(tmp_path / 'w', None, max_iters=1)
    assert all(p.requires_grad for p in runner.model.parameters())
    runner.train()
    n = sum(len(g['params'])
            for g in runner.optim_wrapper.optimizer.param_groups)
    assert n == len(list(runner.model.parameters()))
    assert runner.model.backbone[1].training


def test_runner_type_resolves_from_both_registries():
    from mmdet.registry import RUNNERS as MMDET_RUNNERS
    assert RUNNERS.get('DecoupledRunner') is DecoupledRunner
    assert MMDET_RUNNERS.get('DecoupledRunner') is DecoupledRunner


# -------------------------------------------------------------- optimizer
def test_constructor_skips_frozen_quietly_with_paramwise_cfg():
    model = ToyNet()
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith('head.'))
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Keep()
    logger.addHandler(handler)
    try:
        wrapper = TrainableOnlyOptimWrapperConstructor(
            dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4)),
            paramwise_cfg=dict(custom_keys={'head.fc_cls': dict(
                lr_mult=0.5)}))(model)
    finally:
        logger.removeHandler(handler)
    groups = wrapper.optimizer.param_groups
    params = [p for g in groups for p in g['params']]
    assert {id(p) for p in params} == {
        id(p)
        for n, p in model.named_parameters() if n.startswith('head.')
    }
    lrs = {id(p): g['lr'] for g in groups for p in g['params']}
    assert lrs[id(model.head.fc_cls.weight)] == pytest.approx(0.05)
    assert lrs[id(model.head.shared.weight)] == pytest.approx(0.1)
    assert not [r for r in records if 'is skipped since' in r]
    assert any('frozen tensors left out' in r for r in records)


def test_constructor_without_trainable_params_errors():
    model = ToyNet().requires_grad_(False)
    with pytest.raises(ValueError, match='no parameter with requires_grad'):
        TrainableOnlyOptimWrapperConstructor(
            dict(optimizer=dict(type='SGD', lr=0.1)))(model)


# ---------------------------------------------------------------- reinit
def test_reinit_on_load_from_not_on_resume_or_test(tmp_path):
    ckpt, start = _stage1(tmp_path)
    init = {k: v.clone() for k, v in ToyNet().state_dict().items()}
    dc = dict(trainable=TRAIN_FC, reinit=TRAIN_FC)
    # lr 0: the iteration leaves every value as loaded
    runner = make_runner(tmp_path / 'a', dc, load_from=ckpt, max_iters=1,
                         lr=0.0)
    runner.train()
    sd = runner.model.state_dict()
    for k in start:
        ref = init if k.startswith('head.fc_cls.') else start
        assert torch.equal(sd[k], ref[k]), k
    # resume from the stage-2 checkpoint: reinit keys are restored too
    stage2 = str(tmp_path / 'a' / 'iter_1.pth')
    saved = torch.load(stage2, weights_only=False)['state_dict']
    saved['head.fc_cls.bias'] += 1.0  # distinguish from every other value
    torch.save(dict(torch.load(stage2, weights_only=False),
                    state_dict=saved), stage2)
    resumed = make_runner(tmp_path / 'b', dc, load_from=stage2, resume=True,
                          max_iters=1, name='b')
    resumed.train()  # resumes at iter 1 = max_iters: no step
    assert resumed.iter == 1
    assert torch.equal(resumed.model.head.fc_cls.bias,
                       saved['head.fc_cls.bias'])
    # outside train() (tools/test.py passes its checkpoint as load_from)
    tester = make_runner(tmp_path / 'c', dc, load_from=stage2, name='c')
    tester.load_or_resume()
    assert torch.equal(tester.model.head.fc_cls.bias,
                       saved['head.fc_cls.bias'])


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize('decoupled, match', [
    (dict(trainable=[r'head\.fc_cls_typo\.']),
     r"(?s)matches no parameter.*head\.fc_cls\.weight"),
    (dict(trainable=[]), 'is empty'),
    (dict(trainable=['head.fc_cls(']), 'not a valid regular expression'),
    (dict(trainable=TRAIN_FC, trainble=1), r"unknown key\(s\) \['trainble'\]"),
    (dict(reinit=TRAIN_FC), 'decoupled.trainable` is missing'),
    (dict(trainable=TRAIN_FC, train_mode=['nope']), 'matches no module'),
])
def test_bad_config_errors(tmp_path, decoupled, match):
    with pytest.raises(FreezeError, match=match):
        make_runner(tmp_path / 'w', decoupled)


def test_load_errors(tmp_path):
    ckpt, start = _stage1(tmp_path)
    # a reinit pattern that matches nothing in the model
    r = make_runner(tmp_path / 'a', dict(trainable=TRAIN_FC, reinit=['x\\.']),
                    load_from=ckpt, name='a')
    with pytest.raises(FreezeError, match='decoupled.reinit'):
        r.train()
    # shape mismatch on a key not in reinit
    bad = dict(start)
    bad['head.fc_cls.weight'] = torch.zeros(5, 8)
    bad_path = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=bad), bad_path)
    r = make_runner(tmp_path / 'b', dict(trainable=TRAIN_FC),
                    load_from=bad_path, name='b')
    with pytest.raises(FreezeError,
                       match=r'(?s)head\.fc_cls\.weight: checkpoint \(5, 8\) '
                       r'vs model \(3, 8\).*decoupled.reinit'):
        r.train()
    # ... which reinit resolves
    r = make_runner(tmp_path / 'c', dict(trainable=TRAIN_FC,
                                         reinit=TRAIN_FC),
                    load_from=bad_path, max_iters=1, name='c')
    r.train()
    # a frozen parameter missing from the checkpoint
    partial = {k: v for k, v in start.items() if not k.startswith('head.sh')}
    part_path = str(tmp_path / 'part.pth')
    torch.save(dict(state_dict=partial), part_path)
    r = make_runner(tmp_path / 'd', dict(trainable=TRAIN_FC),
                    load_from=part_path, name='d')
    with pytest.raises(FreezeError, match=r'head\.shared\.\{weight,bias\}'):
        r.train()
    # nothing loaded at all
    r = make_runner(tmp_path / 'e', dict(trainable=TRAIN_FC), name='e')
    with pytest.raises(FreezeError, match='no checkpoint was loaded'):
        r.train()


def test_missing_stage1_checkpoint(tmp_path):
    """A load_from that does not exist: named, with how to make it, before
    training starts; --resume with an empty work dir says the same."""
    from mmlt.engine.runner.decoupled_runner import MissingStage1Error
    missing = str(tmp_path / 'work_dirs' / 'nope' / 'stage1.pth')
    r = make_runner(tmp_path / 'a', dict(trainable=TRAIN_FC),
                    load_from=missing, name='a')
    with pytest.raises(MissingStage1Error) as e:
        r.train()
    msg = str(e.value)
    assert f'load_from={missing}, which does not exist' in msg
    assert '--cfg-options load_from=PATH' in msg
    assert r.iter == 0
    r = make_runner(tmp_path / 'b', dict(trainable=TRAIN_FC), resume=True,
                    name='b')
    with pytest.raises(FreezeError,
                       match=r'(?s)no checkpoint was loaded.*--resume found '
                       r'no checkpoint in the work dir .*load_from=PATH'):
        r.train()


def _retinanet_like(start):
    """The stage-1 backbone with a head of other names (a RetinaNet-style
    checkpoint for an R-CNN-style stage 2)."""
    state = {k: v for k, v in start.items() if k.startswith('backbone.')}
    state['bbox_head.retina_cls.weight'] = torch.zeros(3, 4, 3, 3)
    state['bbox_head.retina_cls.bias'] = torch.zeros(3)
    state['bbox_head.retina_reg.weight'] = torch.zeros(4, 4, 3, 3)
    return state


def test_checkpoint_of_another_model(tmp_path):
    from mmlt.engine.runner.decoupled_runner import (Stage1MismatchError,
                                                     compare_with_checkpoint)
    ckpt, start = _stage1(tmp_path)
    state = _retinanet_like(start)
    r = compare_with_checkpoint(ToyNet(), state)
    # ToyNet parameter values: backbone conv 4*3*3*3 + 4 = 112, BN 4 + 4;
    # head: shared 4*8 + 8 = 40, BN 8 + 8, fc_cls 8*3 + 3 = 27 -> 203;
    # the backbone's 120 fit
    assert r['matched'] == ['backbone.0.weight', 'backbone.0.bias',
                            'backbone.1.weight', 'backbone.1.bias']
    assert r['value_fraction'] == pytest.approx(120 / 203)
    assert r['other_model'] and len(r['unexpected']) == 3
    path = str(tmp_path / 'retina.pth')
    torch.save(dict(state_dict=state), path)
    runner = make_runner(tmp_path / 'a', dict(trainable=TRAIN_FC),
                         load_from=path, name='a')
    with pytest.raises(Stage1MismatchError) as e:
        runner.train()
    msg = str(e.value)
    assert msg.startswith(f'{path} is not a stage-1 checkpoint of this '
                          'model')
    assert "holds 4 of the model's 10 parameter tensors with the right " \
        'shape (59% of the parameter values)' in msg
    assert 'missing (6): head.shared.{weight,bias}, head.bn.{weight,bias},' \
        ' head.fc_cls.{weight,bias}' in msg
    assert 'in the checkpoint, not in the model (3): bbox_head.retina_cls.' \
        '{weight,bias}, bbox_head.retina_reg.weight' in msg
    assert '`decoupled.reinit` cannot fix this' in msg
    # extra layers only (stage 2 drops a branch): a warning, and it loads
    extra = dict(start, **{'mask_head.conv.weight': torch.zeros(2, 2)})
    path = str(tmp_path / 'extra.pth')
    torch.save(dict(state_dict=extra), path)
    r = make_runner(tmp_path / 'b', dict(trainable=TRAIN_FC),
                    load_from=path, max_iters=1, name='b')
    r.train()
    assert not compare_with_checkpoint(ToyNet(), extra)['other_model']


def test_frozen_shape_mismatch_is_not_a_reinit_case(tmp_path):
    ckpt, start = _stage1(tmp_path)
    bad = dict(start)
    bad['head.shared.weight'] = torch.zeros(8, 5)
    path = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=bad), path)
    r = make_runner(tmp_path / 'a', dict(trainable=TRAIN_FC),
                    load_from=path, name='a')
    with pytest.raises(FreezeError,
                       match=r'(?s)head\.shared\.weight: checkpoint \(8, 5\)'
                       r' vs model \(8, 4\).*1 of them are frozen in this '
                       r'stage 2 \(head\.shared\.weight\): re-initialised '
                       r'they would stay random'):
        r.train()


def test_summarize_names():
    names = ['a.b.weight', 'a.b.bias', 'c.weight', 'bias']
    assert summarize_names(names) == 'a.b.{weight,bias}, c.weight, bias'
    assert summarize_names(names, max_items=1) == \
        'a.b.{weight,bias}, ... (+2 more)'


# ------------------------------------------------------------ gloo DDP


def _ddp_worker(rank, port, tmp, ckpt, out):
    import torch.distributed as dist
    os.environ.update(
        MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
        WORLD_SIZE='2', LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        rec = RecordModes()
        runner = make_runner(
            tmp, dict(trainable=TRAIN_FC), load_from=ckpt, max_iters=3,
            launcher='pytorch', hooks=[rec], name='ddp')
        runner.train()
        inner = runner.model.module
        out[rank] = dict(
            wrapper=type(runner.model).__name__,
            # what DDP's reducer all-reduces (private API of torch DDP)
            n_ddp=len(runner.model._build_params_for_reducer()[0]),
            state={k: v.clone()
                   for k, v in inner.state_dict().items()},
            modes=rec.modes,
            n_opt=sum(
                len(g['params'])
                for g in runner.optim_wrapper.optimizer.param_groups))
    finally:
        dist.destroy_process_group()


@pytest.mark.dist
def test_two_gloo_ranks_no_unused_parameter_error(tmp_path):
    ckpt, start = _stage1(tmp_path)
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(
            _ddp_worker,
            args=(free_port(), str(tmp_path / 'w'), ckpt, out),
            nprocs=2,
            join=True)
        out = dict(out)
    assert out[0]['wrapper'] == 'MMDistributedDataParallel'
    for rank in (0, 1):
        res = out[rank]
        assert res['n_opt'] == 2 and res['n_ddp'] == 2
        assert res['modes'] == [(True, False, False, False)] * 3
        for k, v in start.items():
            if k.startswith('head.fc_cls.'):
                assert not torch.equal(res['state'][k], v)
                # DDP averaged the gradients: identical on both ranks
                assert torch.equal(res['state'][k], out[0]['state'][k])
            else:
                assert torch.equal(res['state'][k], v), (rank, k)
