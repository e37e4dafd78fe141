"""Runner for decoupled (two-stage) training: stage 2 trains a few layers of
a stage-1 checkpoint and keeps everything else bit-identical.

Config (``configs/_base_/decoupled/cls_only.py``)::

    runner_type = 'DecoupledRunner'
    load_from = 'stage1.pth'
    decoupled = dict(
        trainable=[r'roi_head\\.bbox_head\\.(\\d+\\.)?fc_cls\\.'],  # re.match
        reinit=[r'roi_head\\.bbox_head\\.(\\d+\\.)?fc_cls\\.'],     # optional
        train_mode=[])                                            # optional

Recipes: cRT (Kang et al., "Decoupling Representation and Classifier",
ICLR 2020), LWS, BAGS (Li et al., CVPR 2020) as run in the EQLv2 repo, which
froze modules through ``train_cfg.freeze``; here the selection is by
parameter name so any head layout works.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

from .freeze import (FreezeError, _unmatched_error, compile_patterns,
                     freeze_by_patterns, lock_eval_mode, split_by_patterns,
                     summarize_names)

__all__ = ['DecoupledRunner', 'DECOUPLED_KEYS']

# keys of the `decoupled` config block and what they hold
DECOUPLED_KEYS = dict(
    trainable='regexes (re.match on full parameter names) of the parameters '
    'to train; everything else is frozen',
    reinit='regexes of state-dict keys dropped from `load_from` so those '
    'layers keep their fresh initialisation (not applied on resume)',
    train_mode='regexes of module names whose BatchNorm/Dropout stay in '
    'train mode although they have no trainable parameter')


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def _decoupled_cfg(cfg) -> Optional[dict]:
    dc = cfg.get('decoupled', None) if cfg is not None else None
    if dc is None:
        return None
    if not isinstance(dc, dict):
        raise FreezeError(
            '`decoupled` must be a dict(trainable=[...], reinit=[...]), got '
            f'{type(dc).__name__}')
    unknown = sorted(set(dc) - set(DECOUPLED_KEYS))
    if unknown:
        raise FreezeError(
            f'unknown key(s) {unknown} in `decoupled`; valid keys: ' +
            '; '.join(f'{k}: {v}' for k, v in DECOUPLED_KEYS.items()))
    if 'trainable' not in dc:
        raise FreezeError('`decoupled.trainable` is missing: ' +
                          DECOUPLED_KEYS['trainable'])
    return dict(dc)


@RUNNERS.register_module()
class DecoupledRunner(Runner):
    """``Runner`` that freezes everything but ``decoupled.trainable``.

    * Freezing happens in :meth:`wrap_model`, *before* DDP wraps the model:
      frozen parameters get ``requires_grad=False`` so DDP never registers
      them (no unused-parameter errors with ``find_unused_parameters=False``
      and no gradient all-reduce for them).
    * BatchNorm (incl. SyncBN) and Dropout modules without trainable
      parameters are locked in eval mode (:func:`lock_eval_mode`), so running
      statistics stay bit-identical whatever calls ``model.train()``.
    * The optimizer gets only trainable parameters
      (``TrainableOnlyOptimWrapperConstructor`` unless the config names a
      constructor).
    * ``load_from`` (not ``--resume``, not test/val) drops the checkpoint keys
      matching ``decoupled.reinit``; a shape mismatch or a frozen parameter
      absent from the checkpoint is an error rather than mmengine's warning,
      because it would leave a frozen layer at its random initialisation.

    Without a ``decoupled`` block it is a plain ``Runner``.
    """

    def __init__(self, *args, **kwargs):
        # set before Runner.__init__, which calls wrap_model
        self._loading_for_train = False
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------ config
    @property
    def decoupled_cfg(self) -> Optional[dict]:
        return _decoupled_cfg(getattr(self, 'cfg', None))

    # ------------------------------------------------------------- model
    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: nn.Module) -> nn.Module:
        dc = self.decoupled_cfg
        if dc is None:
            return super().wrap_model(model_wrapper_cfg, model)
        if is_model_wrapper(model):
            raise FreezeError(
                'DecoupledRunner got a model that is already wrapped '
                f'({type(model).__name__}); pass the bare model (or its '
                'config) so it can freeze parameters before DDP wrapping')
        on, off = freeze_by_patterns(model, dc['trainable'])
        n_on = sum(p.numel() for p in model.parameters() if p.requires_grad)
        n_all = sum(p.numel() for p in model.parameters())
        self.logger.info(
            f'DecoupledRunner: {len(on)}/{len(on) + len(off)} parameter '
            f'tensors trainable ({n_on:,}/{n_all:,} values): '
            f'{summarize_names(on)}')
        wrapped = super().wrap_model(model_wrapper_cfg, model)
        # after wrapping: SyncBN conversion/reversion replaces norm modules
        locked = lock_eval_mode(_unwrap(wrapped), dc.get('train_mode', []))
        if locked:
            self.logger.info(
                f'DecoupledRunner: {len(locked)} BatchNorm/Dropout modules '
                f'without trainable parameters locked in eval mode: '
                f'{summarize_names(locked, max_items=6)}')
        return wrapped

    # --------------------------------------------------------- optimizer
    def build_optim_wrapper(self, optim_wrapper):
        if self.decoupled_cfg is not None and isinstance(
                optim_wrapper, (dict, ConfigDict, Config)) and \
                'optimizer' in optim_wrapper and \
                'constructor' not in optim_wrapper:
            optim_wrapper = optim_wrapper.copy()
            optim_wrapper['constructor'] = \
                'TrainableOnlyOptimWrapperConstructor'
        wrapper = super().build_optim_wrapper(optim_wrapper)
        if self.decoupled_cfg is not None and isinstance(
                wrapper, OptimWrapper):
            self._check_optimizer(wrapper)
        return wrapper

    def _check_optimizer(self, wrapper: OptimWrapper) -> None:
        frozen = {
            id(p): n
            for n, p in _unwrap(self.model).named_parameters()
            if not p.requires_grad
        }
        held = [
            frozen[id(p)] for g in wrapper.optimizer.param_groups
            for p in g['params'] if id(p) in frozen
        ]
        if held:
            self.logger.warning(
                f'DecoupledRunner: the optimizer built by '
                f'`optim_wrapper.constructor` holds {len(held)} frozen '
                f'parameters ({summarize_names(held, 4)}); they get no '
                'gradient, but remove the constructor to let mmlt use '
                'TrainableOnlyOptimWrapperConstructor')

    # ------------------------------------------------------ checkpoints
    def train(self) -> nn.Module:
        # reinit applies to the stage-1 checkpoint of a training run only:
        # tools/test.py also passes its checkpoint through `load_from`
        self._loading_for_train = True
        try:
            return super().train()
        finally:
            self._loading_for_train = False

    def load_or_resume(self) -> None:
        super().load_or_resume()
        if self.decoupled_cfg is not None and self._loading_for_train and \
                not self._has_loaded:
            # e.g. `--resume` (auto) in an empty work dir: training would
            # start from a randomly initialised, mostly frozen model
            raise FreezeError(
                'DecoupledRunner: no checkpoint was loaded; set `load_from` '
                'to the stage-1 checkpoint (or resume from a stage-2 one)')

    def resume(self, *args, **kwargs) -> None:
        # resume must restore everything, reinit keys included
        prev, self._loading_for_train = self._loading_for_train, False
        try:
            return super().resume(*args, **kwargs)
        finally:
            self._loading_for_train = prev

    def load_checkpoint(self,
                        filename: str,
                        map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        dc = self.decoupled_cfg
        if dc is None or not self._loading_for_train:
            return super().load_checkpoint(
                filename,
                map_location=map_location,
                strict=strict,
                revise_keys=revise_keys)
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = _unwrap(self.model)
        state = checkpoint.get('state_dict', checkpoint)
        if not isinstance(state, dict):
            raise FreezeError(f'{filename} holds no state dict '
                              f"(no 'state_dict' entry)")
        for p, r in revise_keys:
            state = OrderedDict((re.sub(p, r, k), v) for k, v in state.items())
        reinit = compile_patterns(dc.get('reinit', []), 'decoupled.reinit')
        own = model.state_dict()
        for p in reinit:
            if not any(p.match(k) for k in own):
                raise _unmatched_error('decoupled.reinit', p.pattern,
                                       list(own), 'model state-dict key')
        state, dropped = split_by_patterns(state, reinit)
        if dropped:
            self.logger.info(
                f'DecoupledRunner: decoupled.reinit dropped {len(dropped)} '
                f'keys from {filename}; they keep their initialisation: '
                f'{summarize_names(dropped)}')
        elif reinit:
            self.logger.warning(
                f'DecoupledRunner: decoupled.reinit matched no key of '
                f'{filename} (already removed, e.g. by ckpt_surgery.py)')
        self._check_loadable(filename, state, own, reinit)
        checkpoint['state_dict'] = state
        _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=[])
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _check_loadable(self, filename: str, state: dict, own: dict,
                        reinit: List) -> None:
        bad = [
            f'{k}: checkpoint {tuple(v.shape)} vs model '
            f'{tuple(own[k].shape)}' for k, v in state.items()
            if k in own and isinstance(v, torch.Tensor)
            and tuple(v.shape) != tuple(own[k].shape)
        ]
        if bad:
            raise FreezeError(
                f'{len(bad)} tensors of {filename} do not fit the model:\n  '
                + '\n  '.join(bad[:10]) +
                '\nAdd them to `decoupled.reinit` (they are then trained or '
                'kept from their fresh initialisation) or resize them with '
                'tools/misc/ckpt_surgery.py --method resize')
        missing_frozen = [
            n for n, p in _unwrap(self.model).named_parameters()
            if not p.requires_grad and n not in state
            and not any(r.match(n) for r in reinit)
        ]
        if missing_frozen:
            raise FreezeError(
                f'{len(missing_frozen)} frozen parameters are not in '
                f'{filename}, so they would stay at their random '
                f'initialisation: {summarize_names(missing_frozen, 6)}. '
                'Use the stage-1 checkpoint of this model, or add them to '
                '`decoupled.trainable` (or `decoupled.reinit` to keep '
                'their initialisation on purpose)')
