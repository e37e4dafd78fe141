"""Checkpoint the random number generators so that ``--resume`` is exact.

mmengine saves model, optimizer, scheduler and message hub, but not the RNG
streams. Two-stage detectors draw from torch's global generator every
iteration (RPN and RoI samplers' ``randperm``), so without this a resumed
run samples different RoIs than an uninterrupted one. The states are taken
when the checkpoint is written and restored only when resuming (not for
``load_from`` fine-tuning). Ranks share one seed by default, so rank 0's
states are the ones saved; with ``randomness.diff_rank_seed=True`` each
rank restores rank 0's stream (documented limitation).
"""
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from mmdet.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(
            torch=torch.get_rng_state(),
            numpy=np.random.get_state(),
            python=random.getstate())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if state is None or not getattr(runner, '_resume', False):
            return
        torch.set_rng_state(state['torch'])
        np.random.set_state(state['numpy'])
        random.setstate(state['python'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
        runner.logger.info('restored the RNG states saved in the checkpoint')
