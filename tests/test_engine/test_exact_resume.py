"""``--resume`` equals an uninterrupted run with the shipped toy config's own
data pipeline (RandomFlip 0.5) and loader (1 persistent worker), in 2 gloo
processes; and the pieces that make it so: per-epoch worker seeding,
private loader generators, per-rank RNG states in checkpoints."""
import logging
import os.path as osp
import random
import re
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset.utils import worker_init_fn as mmengine_worker_init
from torch.utils.data import DataLoader

from conftest import PY, ROOT, TOY_CONFIG, run_tool
from mmlt.engine.hooks import EpochSeededWorkerInit, RNGStateHook
from mmlt.engine.hooks.loader_rng import (epoch_worker_seed,
                                          private_generator)


# ------------------------------------------------------------ end to end
def _train_opts(root, n_images, extra=(), key='train_dataloader.dataset'):
    """Point the toy config at ``root`` and shorten it; the pipeline, the
    loader (workers, persistence), the schedule and the seed stay the
    config's."""
    root = root.rstrip('/') + '/'
    return ['--cfg-options', f'{key}.data_root={root}',
            f'{key}.indices={n_images}',
            'default_hooks.logger.interval=1'] + list(extra)


def _dist_train(config, work, opts, port, resume=None):
    args = ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work,
            '--no-validate']
    if resume is not None:
        args += ['--resume', resume]
    env = {'PORT': str(port), 'OMP_NUM_THREADS': '1', 'PYTHON': PY}
    proc = run_tool(args + opts, env=env)
    return proc.stdout + proc.stderr


def _losses(log):
    """{(epoch or 0, iter): every logged loss term} of rank 0's log."""
    rows = {}
    pat = re.compile(r'(?:Epoch\(train\)\s+\[(\d+)\]|Iter\(train\))'
                     r'\s*\[\s*(\d+)/\d+\](.*)')
    for line in log.splitlines():
        m = pat.search(line)
        if m:
            terms = dict(re.findall(r'\s(loss\w*|acc): ([-\d.]+)', m[3]))
            rows[(int(m[1] or 0), int(m[2]))] = terms
    return rows


def _ckpt(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def _assert_same_state(a, b):
    assert a['meta']['epoch'] == b['meta']['epoch']
    assert a['meta']['iter'] == b['meta']['iter']
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differ = [k for k in a['state_dict']
              if not torch.equal(a['state_dict'][k], b['state_dict'][k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:3]}'
    for sa, sb in zip(a['optimizer']['state'].values(),
                      b['optimizer']['state'].values()):
        assert torch.equal(sa['momentum_buffer'], sb['momentum_buffer'])


def test_toy_config_uses_workers_and_flips():
    """The end-to-end tests below run the config's own data settings."""
    cfg = Config.fromfile(TOY_CONFIG)
    loader = cfg.train_dataloader
    assert loader.num_workers >= 1 and loader.persistent_workers
    flips = [t for t in loader.dataset.pipeline if t.type == 'RandomFlip']
    assert flips and flips[0].prob == 0.5
    assert dict(type='RNGStateHook') in cfg.custom_hooks


@pytest.mark.dist
def test_dist_resume_equals_uninterrupted(toy_lvis_root, tmp_path):
    """2 epochs uninterrupted vs. killed after epoch 1 and resumed: every
    logged loss of epoch 2 and every weight and momentum are bit-identical.
    (The first run's epoch_1.pth is what a run killed after epoch 1 leaves,
    the runs being deterministic.)"""
    opts = _train_opts(toy_lvis_root, 8, ['train_cfg.max_epochs=2'])
    full, part = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    log_full = _dist_train(TOY_CONFIG, full, opts, 29651)
    log_res = _dist_train(TOY_CONFIG, part, opts, 29652,
                          resume=osp.join(full, 'epoch_1.pth'))
    assert 'restored the RNG states of 2 rank(s)' in log_res

    la, lb = _losses(log_full), _losses(log_res)
    epoch2 = sorted(k for k in la if k[0] == 2)
    assert len(epoch2) == 2 and sorted(k for k in lb if k[0] == 2) == epoch2
    for k in epoch2:
        assert la[k] == lb[k], (k, la[k], lb[k])
    _assert_same_state(_ckpt(osp.join(full, 'epoch_2.pth')),
                       _ckpt(osp.join(part, 'epoch_2.pth')))

    # every rank's states are in the checkpoint, and they differ: one
    # state for both ranks could not have resumed rank 1
    rng = _ckpt(osp.join(full, 'epoch_1.pth'))['rng_state']
    assert rng['world_size'] == 2 and len(rng['ranks']) == 2
    assert torch.equal(rng['torch'], rng['ranks'][0]['torch'])
    assert not torch.equal(rng['ranks'][0]['torch'], rng['ranks'][1]['torch'])


@pytest.mark.slow
@pytest.mark.dist
def test_dist_resume_stochastic_rfs(toy_lvis_root, tmp_path):
    """The toy RFS config with stochastic rounding (a new index table every
    epoch, read by the workers) and 2 workers per process: the resumed
    epoch 2 equals the uninterrupted one."""
    config = osp.join(ROOT, 'configs/toy/mask-rcnn_r18_fpn_toy_rfs.py')
    opts = _train_opts(
        toy_lvis_root, 8, key='train_dataloader.dataset.dataset',
        extra=['train_cfg.max_epochs=2', 'train_dataloader.num_workers=2',
               'train_dataloader.dataset.thr=0.5',
               'train_dataloader.dataset.rounding=stochastic'])
    full, part = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    log_full = _dist_train(config, full, opts, 29655)
    log_res = _dist_train(config, part, opts, 29656,
                          resume=osp.join(full, 'epoch_1.pth'))
    la, lb = _losses(log_full), _losses(log_res)
    epoch2 = sorted(k for k in la if k[0] == 2)
    assert epoch2 and sorted(k for k in lb if k[0] == 2) == epoch2
    for k in epoch2:
        assert la[k] == lb[k], (k, la[k], lb[k])
    _assert_same_state(_ckpt(osp.join(full, 'epoch_2.pth')),
                       _ckpt(osp.join(part, 'epoch_2.pth')))


@pytest.mark.slow
@pytest.mark.dist
def test_dist_resume_iteration_based(toy_lvis_root, tmp_path):
    """IterBasedTrainLoop (as the decoupled stage-2 configs): a checkpoint in
    the middle of a data epoch, resumed (mmengine re-reads the first 3
    batches), equals the uninterrupted run; 2 workers per process."""
    cfg = tmp_path / 'iter_cfg.py'
    cfg.write_text(
        f'_base_ = {TOY_CONFIG!r}\n'
        "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', "
        'max_iters=6, val_interval=100)\n'
        "param_scheduler = [dict(type='LinearLR', start_factor=0.1, "
        'by_epoch=False, begin=0, end=4)]\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3))\n'
        'log_processor = dict(by_epoch=False)\n')
    opts = _train_opts(toy_lvis_root, 8, ['train_dataloader.num_workers=2'])
    full, part = str(tmp_path / 'full'), str(tmp_path / 'resumed')
    log_full = _dist_train(str(cfg), full, opts, 29653)
    log_res = _dist_train(str(cfg), part, opts, 29654,
                          resume=osp.join(full, 'iter_3.pth'))
    la, lb = _losses(log_full), _losses(log_res)
    assert sorted(lb) == [(0, 4), (0, 5), (0, 6)]
    for k in lb:
        assert la[k] == lb[k], (k, la[k], lb[k])
    _assert_same_state(_ckpt(osp.join(full, 'iter_6.pth')),
                       _ckpt(osp.join(part, 'iter_6.pth')))


# ------------------------------------------------- worker seeding, by hand
class Draws:
    """Each item: its index and one draw from each global RNG."""

    def __len__(self):
        return 12

    def __getitem__(self, idx):
        return (idx, int(np.random.randint(2**30)),
                random.randrange(2**30), int(torch.randint(2**30, ())))


def _expected(epoch, seed=7, rank=1, num_workers=2, batch=2, n=12):
    """Worker w gets batches w, w + W, ... (torch's round-robin, restarted
    each epoch) and starts each epoch from epoch_worker_seed(W * rank + w +
    seed, epoch); epoch 0 is mmengine's worker seed."""
    out = {}
    for w in range(num_workers):
        s = num_workers * rank + w + seed
        s = s if epoch == 0 else epoch_worker_seed(s, epoch)
        np.random.seed(s)
        random.seed(s)
        torch.manual_seed(s)
        for b in range(w, n // batch, num_workers):
            for i in range(b * batch, (b + 1) * batch):
                out[i] = (int(np.random.randint(2**30)),
                          random.randrange(2**30),
                          int(torch.randint(2**30, ())))
    return out


def _loader(epoch_tensor, persistent):
    orig = partial(mmengine_worker_init, num_workers=2, rank=1, seed=7)
    return DataLoader(
        Draws(), batch_size=2, num_workers=2, persistent_workers=persistent,
        collate_fn=lambda b: b,
        worker_init_fn=EpochSeededWorkerInit(orig, epoch_tensor, 7, 1, 2))


def _epoch(loader, epoch_tensor, epoch):
    epoch_tensor[0] = epoch
    return {item[0]: item[1:] for batch in loader for item in batch}


@pytest.mark.parametrize('persistent', [True, False],
                         ids=['persistent', 'respawned'])
def test_worker_draws_depend_on_epoch_only(persistent):
    rng = (np.random.get_state(), random.getstate(), torch.get_rng_state())
    epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
    loader = _loader(epoch, persistent)
    seen = [_epoch(loader, epoch, e) for e in range(3)]
    # a fresh loader started in epoch 2 (a resumed run) draws what the
    # long-running one drew in epoch 2
    epoch2 = torch.full((1, ), 2, dtype=torch.int64).share_memory_()
    resumed = _epoch(_loader(epoch2, persistent), epoch2, 2)
    exp = [_expected(e) for e in range(3)]
    np.random.set_state(rng[0])
    random.setstate(rng[1])
    torch.set_rng_state(rng[2])
    for e in range(3):
        assert seen[e] == exp[e], e
    assert resumed == seen[2]
    assert seen[1] != seen[0] and seen[2] != seen[1]


def test_epoch_worker_seed():
    assert epoch_worker_seed(9, 0) == 9  # mmengine's seed in epoch 0
    seeds = {epoch_worker_seed(w, e) for w in range(4) for e in range(1, 50)}
    assert len(seeds) == 4 * 49 and max(seeds) < 2**32


def test_private_generator_leaves_global_stream():
    loader = DataLoader(list(range(4)), batch_size=2)
    before = torch.get_rng_state()
    iter(loader)  # torch draws the iterator's base_seed
    assert not torch.equal(before, torch.get_rng_state())
    gen = private_generator(loader, 5)
    before = torch.get_rng_state()
    iter(loader)
    iter(loader)
    assert torch.equal(before, torch.get_rng_state())
    # reseeding keeps the same generator object
    assert private_generator(loader, 6) is gen


# --------------------------------------------------- checkpoint states
class _Logs(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _runner(resume=True):
    logger = logging.getLogger('mmlt.test_exact_resume')
    logger.handlers[:] = [_Logs()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return SimpleNamespace(_resume=resume, iter=10, hooks=[], logger=logger)


def _draw():
    return (float(torch.rand(())), float(np.random.rand()), random.random())


def test_checkpoint_states_round_trip():
    hook, runner = RNGStateHook(), _runner()
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    hook.after_train_epoch(runner)  # one process: its own states
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    expected = _draw()
    state = ckpt['rng_state']
    assert state['world_size'] == 1 and len(state['ranks']) == 1
    _draw()
    hook.after_load_checkpoint(runner, ckpt)
    assert _draw() == expected
    assert 'restored the RNG states of 1 rank(s)' in \
        runner.logger.handlers[0].lines[-1]
    # load_from (not a resume) leaves the RNGs alone
    runner._resume = False
    snapshot = torch.get_rng_state()
    hook.after_load_checkpoint(runner, ckpt)
    assert torch.equal(snapshot, torch.get_rng_state())


def test_checkpoint_of_other_world_size_warns():
    hook, runner = RNGStateHook(), _runner()
    torch.manual_seed(1)
    r0 = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
              python=random.getstate())
    expected = _draw()
    torch.manual_seed(2)
    r1 = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
              python=random.getstate())
    ckpt = dict(rng_state=dict(r0, world_size=2, ranks=[r0, r1]))
    hook.after_load_checkpoint(runner, ckpt)
    assert _draw() == expected  # rank 0's states
    msg = runner.logger.handlers[0].lines[-1]
    assert '2 rank(s), this run has 1' in msg and 'not exact' in msg


def test_checkpoint_before_per_rank_states_still_resumes():
    """Checkpoints written before the per-rank format (top-level states
    only) restore those states."""
    hook, runner = RNGStateHook(), _runner()
    torch.manual_seed(4)
    old = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
               python=random.getstate())
    expected = _draw()
    hook.after_load_checkpoint(runner, dict(rng_state=old))
    assert _draw() == expected
    hook.after_load_checkpoint(runner, dict())
    assert 'no RNG states' in runner.logger.handlers[0].lines[-1]



def _fake_train_runner(iter_based=False):
    orig = partial(mmengine_worker_init, num_workers=2, rank=0, seed=11)
    train = DataLoader(Draws(), batch_size=2, num_workers=2,
                       persistent_workers=True, worker_init_fn=orig)
    val = DataLoader(Draws(), batch_size=2)
    loop = SimpleNamespace(
        dataloader_iterator=object() if iter_based else None)
    runner = _runner()
    runner.seed, runner.epoch, runner.train_dataloader = 11, 0, train
    runner.train_loop = loop
    runner._val_loop = SimpleNamespace(dataloader=val)
    return runner, orig


def test_hook_installs_seeding_on_train_and_val_loaders():
    hook = RNGStateHook()
    runner, orig = _fake_train_runner()
    hook.before_train(runner)
    init = runner.train_dataloader.worker_init_fn
    assert isinstance(init, EpochSeededWorkerInit) and init.orig is orig
    assert (init.seed, init.rank, init.num_workers) == (11, 0, 2)
    for loader in (runner.train_dataloader, runner._val_loop.dataloader):
        before = torch.get_rng_state()
        it = iter(loader)  # base_seed from the loader's own generator
        assert torch.equal(before, torch.get_rng_state())
        if loader.num_workers:
            it._shutdown_workers()
    runner.epoch = 3
    hook.before_train_epoch(runner)
    assert int(init.epoch[0]) == 3


def test_hook_leaves_iteration_based_workers():
    """Iteration-based loops started their workers when the loop was built;
    their streams are replayed on resume, not reseeded."""
    hook = RNGStateHook()
    runner, orig = _fake_train_runner(iter_based=True)
    hook.before_train(runner)
    assert runner.train_dataloader.worker_init_fn is orig
    assert runner.train_dataloader._mmlt_private_generator


@pytest.mark.parametrize('rounding', ['stochastic', 'ceil'])
def test_infinite_sampler_with_changing_table_warns(rounding):
    """Per-epoch tables switched by iteration count race the workers'
    prefetching under an InfiniteSampler: said, not silent."""
    import warnings

    from mmengine.dataset import InfiniteSampler

    from mmlt.datasets import RepeatFactorDataset
    from mmlt.engine.hooks import RepeatFactorEpochHook

    class Tiny:
        metainfo = dict(classes=('a', 'b'))

        def __len__(self):
            return 4

        def get_cat_ids(self, idx):
            return [[0], [1], [1], [0]][idx]

    rfs = RepeatFactorDataset(Tiny(), thr=0.5, rounding=rounding)
    loader = SimpleNamespace(dataset=rfs, batch_size=2, num_workers=2,
                             sampler=InfiniteSampler(rfs, seed=0))
    runner = SimpleNamespace(train_dataloader=loader, epoch=0, iter=0,
                             train_loop=SimpleNamespace(
                                 dataloader_iterator=object()),
                             logger=logging.getLogger('t'))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        RepeatFactorEpochHook().before_train(runner)
    racing = [x for x in w if 'races' in str(x.message)]
    assert len(racing) == (rounding == 'stochastic')
    if racing:
        assert "DefaultSampler" in str(racing[0].message)


def test_batch_sync_random_resize_size_resumes():
    """YOLOX's BatchSyncRandomResize keeps its drawn size in a plain
    attribute; without it, the first iterations after a resume would use
    the batch's own size."""
    from mmdet.models.data_preprocessors import (BatchSyncRandomResize,
                                                 DetDataPreprocessor)
    pre = DetDataPreprocessor(batch_augments=[
        dict(type='BatchSyncRandomResize', random_size_range=(10, 20))])
    aug = pre.batch_augments[0]
    assert isinstance(aug, BatchSyncRandomResize)
    aug._input_size = (448, 512)
    runner = _runner()
    runner.model = SimpleNamespace(data_preprocessor=pre)
    hook, ckpt = RNGStateHook(), {}
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['rng_state']['batch_augments'] == {0: (448, 512)}
    aug._input_size = None  # a fresh model
    hook.after_load_checkpoint(runner, ckpt)
    assert aug._input_size == (448, 512)
