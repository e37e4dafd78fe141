"""Make ``--resume`` equal an uninterrupted run.

mmengine checkpoints model, optimizer, schedulers and message hub, but not
the randomness of the run. :class:`RNGStateHook` adds it:

* **every rank's** torch / numpy / python (and CUDA) RNG states, gathered
  just before the checkpoint is written and restored rank by rank on
  resume. Ranks share a seed but draw different amounts (RoI sampling's
  ``randperm`` depends on each rank's images), so one state for all ranks
  is not enough.
* per-epoch seeding of the train loader's workers
  (:class:`~mmlt.engine.hooks.loader_rng.EpochSeededWorkerInit`): a
  persistent worker otherwise carries its RNG streams over epochs, which a
  resumed run's fresh workers cannot reproduce.
* private ``base_seed`` generators for the train and val loaders, so that
  creating a loader iterator (at a resume, or the first validation) does
  not draw from torch's global generator.

What is restored, and the limits, are listed in the README ("Resuming").
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from .loader_rng import (EpochSeededWorkerInit, default_worker_seed_args,
                         mix_seed, private_generator)

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']

# tags of the seeds of the loaders' private generators
_TRAIN, _VAL = 1, 2


def get_rng_state() -> dict:
    """This process's torch, numpy, python (and initialised CUDA) states."""
    state = dict(
        torch=torch.get_rng_state(),
        numpy=np.random.get_state(),
        python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _batch_augments(runner) -> list:
    model = getattr(runner, 'model', None)
    if is_model_wrapper(model):
        model = model.module
    pre = getattr(model, 'data_preprocessor', None)
    return list(getattr(pre, 'batch_augments', None) or [])


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Checkpoint the run's RNG states and seed its data loaders so that a
    resumed run equals an uninterrupted one (see the module docstring).

    Checkpoint format: ``checkpoint['rng_state']`` holds rank 0's states at
    the top level (``torch``, ``numpy``, ``python``, ``cuda``), plus
    ``world_size``, ``ranks`` (every rank's states, in rank order) and,
    when the data preprocessor has batch augments with a drawn input size
    (``BatchSyncRandomResize``), ``batch_augments``. States are restored
    only on resume (not for ``load_from``); a checkpoint of another world
    size, or one without ``ranks``, restores rank 0's states on every rank
    and warns that the resume is not exact.

    Args:
        seed_workers (bool): reseed the train loader's workers every epoch
            (epoch-based loops). Default True.
    """

    # just before CheckpointHook (VERY_LOW = 90) in after_train_epoch /
    # after_train_iter: the states are gathered on all ranks there, since
    # ``before_save_checkpoint`` only runs on rank 0
    priority = 89

    def __init__(self, seed_workers: bool = True) -> None:
        self.seed_workers = seed_workers
        self._epoch_tensor: Optional[torch.Tensor] = None
        self._gathered = None  # (runner.iter, [state per rank])

    # ------------------------------------------------------------ loaders
    @staticmethod
    def _seed(runner) -> int:
        seed = getattr(runner, 'seed', None)
        return 0 if seed is None else int(seed)

    def before_train(self, runner) -> None:
        rank, _ = get_dist_info()
        loader = runner.train_dataloader
        seed = self._seed(runner)
        private_generator(loader, mix_seed(seed, rank, _TRAIN, 0))
        val_loop = getattr(runner, '_val_loop', None)
        val_loader = getattr(val_loop, 'dataloader', None)
        if val_loader is not None and hasattr(val_loader, 'generator'):
            private_generator(val_loader, mix_seed(seed, rank, _VAL))
        if self.seed_workers and self._epoch_based(runner) and \
                getattr(loader, 'num_workers', 0) > 0:
            self._install_worker_seeding(runner, loader, seed, rank)

    @staticmethod
    def _epoch_based(runner) -> bool:
        # iteration-based loops create their iterator (and workers) when the
        # loop is built, and replay the first `iter` batches on resume, so
        # their workers' streams are reproduced without reseeding
        return getattr(runner.train_loop, 'dataloader_iterator',
                       None) is None

    def _install_worker_seeding(self, runner, loader, seed, rank) -> None:
        if getattr(loader, '_iterator', None) is not None:
            runner.logger.warning(
                'RNGStateHook: the train loader already has workers; its '
                'workers are not reseeded per epoch, so --resume of this run '
                'is not exact')
            return
        if isinstance(loader.worker_init_fn, EpochSeededWorkerInit):
            self._epoch_tensor = loader.worker_init_fn.epoch
            return
        w_seed, w_rank, n = default_worker_seed_args(loader, seed, rank)
        self._epoch_tensor = torch.zeros(
            1, dtype=torch.int64).share_memory_()
        loader.worker_init_fn = EpochSeededWorkerInit(
            loader.worker_init_fn, self._epoch_tensor, w_seed, w_rank, n)

    def before_train_epoch(self, runner) -> None:
        if not self._epoch_based(runner):
            return
        rank, _ = get_dist_info()
        # the iterator's base_seed: a function of (seed, rank, epoch)
        private_generator(runner.train_dataloader,
                          mix_seed(self._seed(runner), rank, _TRAIN,
                                   runner.epoch))
        if self._epoch_tensor is not None:
            self._epoch_tensor[0] = int(runner.epoch)

    # ------------------------------------------------------- checkpoints
    def _gather(self, runner) -> None:
        _, world = get_dist_info()
        state = get_rng_state()
        states = all_gather_object(state) if world > 1 else [state]
        self._gathered = (runner.iter, states)

    def after_train_epoch(self, runner) -> None:
        # every epoch (cheap): also covers the best checkpoint written
        # after validation, which does not touch the global generators
        self._gather(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self._saves_this_iter(runner):
            self._gather(runner)

    @staticmethod
    def _saves_this_iter(runner) -> bool:
        """Whether a CheckpointHook saves after this iteration (its own
        condition, evaluated the same way on every rank)."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch:
                continue
            if hook.every_n_train_iters(runner, hook.interval,
                                        hook.save_begin) or (
                    hook.save_last and hook.is_last_train_iter(runner)):
                return True
        return False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        local = get_rng_state()
        _, world = get_dist_info()
        if self._gathered is not None and self._gathered[0] == runner.iter:
            ranks = self._gathered[1]
        elif world == 1:
            ranks = [local]
        else:
            # e.g. a checkpoint written by another hook at another moment
            ranks = None
            runner.logger.warning(
                'RNGStateHook: only rank 0\'s RNG states are saved in this '
                'checkpoint (written outside CheckpointHook\'s train-end '
                'steps); resuming from it is not exact')
        state = dict(ranks[0] if ranks else local)
        state['world_size'] = world
        if ranks:
            state['ranks'] = ranks
        # random input sizes drawn every n iterations (YOLOX's
        # BatchSyncRandomResize, broadcast from rank 0): a plain attribute,
        # not in the state_dict
        sizes = {
            i: aug._input_size
            for i, aug in enumerate(_batch_augments(runner))
            if hasattr(aug, '_input_size')
        }
        if sizes:
            state['batch_augments'] = sizes
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if state is None or not getattr(runner, '_resume', False):
            if state is None and getattr(runner, '_resume', False):
                runner.logger.warning(
                    'RNGStateHook: the checkpoint has no RNG states (written '
                    'without RNGStateHook); the resumed run is not exact')
            return
        augs = _batch_augments(runner)
        for i, size in state.get('batch_augments', {}).items():
            if i < len(augs) and hasattr(augs[i], '_input_size'):
                augs[i]._input_size = size
        rank, world = get_dist_info()
        ranks = state.get('ranks')
        if ranks is not None and len(ranks) == world:
            set_rng_state(ranks[rank])
            runner.logger.info(
                f'restored the RNG states of {world} rank(s) saved in the '
                'checkpoint')
            return
        set_rng_state(state)
        if world > 1 or (ranks is not None and len(ranks) != world):
            saved = len(ranks) if ranks is not None else 'unknown (1 state)'
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds RNG states of '
                f'{saved} rank(s), this run has {world}; every rank '
                "restored rank 0's states, so the resumed run is not exact")
        else:
            runner.logger.info('restored the RNG states saved in the '
                               'checkpoint')
