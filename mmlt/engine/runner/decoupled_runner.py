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
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional

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

__all__ = [
    'DecoupledRunner', 'DECOUPLED_KEYS', 'MissingStage1Error',
    'Stage1MismatchError', 'compare_with_checkpoint'
]


class MissingStage1Error(FileNotFoundError):
    """The stage-1 checkpoint (``load_from``) of a stage-2 config does not
    exist; the message says how to produce it."""


class Stage1MismatchError(FreezeError):
    """The ``load_from`` checkpoint is not a stage-1 checkpoint of this
    model (another architecture, another head)."""


# state-dict keys that are layer weights (not loss or sampler state, whose
# buffers legitimately come and go between stage 1 and stage 2)
_WEIGHT_SUFFIXES = ('.weight', '.bias', '.running_mean', '.running_var')


def compare_with_checkpoint(model: nn.Module, state: dict,
                            skip=()) -> dict:
    """How well ``state`` (a checkpoint's state dict) fits ``model``.

    Parameters matching ``skip`` (compiled ``decoupled.reinit`` patterns)
    are left out. Returns a dict: ``params`` (names compared),
    ``matched`` / ``missing`` / ``shape_mismatch`` (parameters in the
    checkpoint with the model's shape / absent / with another shape),
    ``unexpected`` (layer weights of the checkpoint the model has no
    place for), ``value_fraction`` (share of the compared parameter
    values that the checkpoint provides) and ``other_model``: True when
    the checkpoint is of another architecture -- it provides less than
    half of the parameter values, or it has layers the model lacks while
    the model has parameters it lacks or holds with another shape.
    """
    own = model.state_dict()
    params = [(n, p) for n, p in model.named_parameters()
              if not any(r.match(n) for r in skip)]

    def fits(k):
        v = state.get(k)
        return isinstance(v, torch.Tensor) and tuple(v.shape) == tuple(
            own[k].shape)

    matched = [n for n, _ in params if fits(n)]
    missing = [n for n, _ in params if n not in state]
    shape_bad = [n for n, _ in params if n in state and not fits(n)]
    unexpected = [
        k for k in state if k not in own and k.endswith(_WEIGHT_SUFFIXES)
    ]
    total = sum(p.numel() for _, p in params)
    got = sum(p.numel() for n, p in params if n in set(matched))
    frac = got / total if total else 1.0
    other = bool(params) and (frac < 0.5 or bool(unexpected and
                                                 (missing or shape_bad)))
    return dict(
        params=[n for n, _ in params],
        matched=matched,
        missing=missing,
        shape_mismatch=shape_bad,
        unexpected=unexpected,
        value_fraction=frac,
        other_model=other)

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
    * A missing ``load_from`` file (:class:`MissingStage1Error`), a
      checkpoint of another architecture (:class:`Stage1MismatchError`,
      see :func:`compare_with_checkpoint`) and a module's own check
      (``check_stage1_checkpoint(checkpoint, prefix, filename, advice)``,
      e.g. LOCE's normed mask head) fail before training with the stage-1
      config and the command that trains it
      (:mod:`mmlt.engine.runner.stage1`).

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
            # before the train loop builds the dataloader (slow on LVIS)
            self._check_stage1_exists()
            return super().train()
        finally:
            self._loading_for_train = False

    # ---------------------------------------------- stage-1 checkpoint
    def _config_file(self) -> Optional[str]:
        return getattr(getattr(self, 'cfg', None), 'filename', None)

    def _stage1_advice(self, load_from: Optional[str]) -> str:
        from .stage1 import stage1_advice
        try:
            return stage1_advice(self._config_file(), load_from)
        except Exception:  # advice only: never hide the actual error
            return ('Train the stage-1 model of this config first, or pass '
                    '--cfg-options load_from=PATH')

    def _stage1_path(self, fallback: Optional[str]) -> Optional[str]:
        """The config file's own ``load_from`` (``--cfg-options`` or
        ``--resume`` may have replaced it), else ``fallback``."""
        try:
            from mmengine.config import Config
            if self._config_file():
                return Config.fromfile(
                    self._config_file()).get('load_from') or fallback
        except Exception:  # advice only
            pass
        return fallback

    def _check_stage1_exists(self) -> None:
        lf = self._load_from
        if self.decoupled_cfg is None or self._resume or \
                not isinstance(lf, str) or '://' in lf or osp.isfile(lf):
            return
        cfg = self._config_file() or 'this config'
        raise MissingStage1Error(
            f'{cfg} is a decoupled stage 2 and starts from its stage-1 '
            f'checkpoint load_from={lf}, which does not exist (looked for '
            f'{osp.abspath(lf)}). ' + self._stage1_advice(lf))

    def load_or_resume(self) -> None:
        super().load_or_resume()
        if self.decoupled_cfg is not None and self._loading_for_train and \
                not self._has_loaded:
            # e.g. `--resume` (auto) in an empty work dir: training would
            # start from a randomly initialised, mostly frozen model
            orig = self._stage1_path(None)  # --resume clears load_from
            raise FreezeError(
                'DecoupledRunner: no checkpoint was loaded (no `load_from`, '
                'and --resume found no checkpoint in the work dir '
                f'{self.work_dir}); set `load_from` to the stage-1 '
                'checkpoint (or resume from a stage-2 one). ' +
                self._stage1_advice(orig))

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
        advice = _Lazy(lambda: self._stage1_advice(self._stage1_path(
            filename)))
        self._check_same_model(filename, state, model, reinit, advice)
        if dropped:
            self.logger.info(
                f'DecoupledRunner: decoupled.reinit dropped {len(dropped)} '
                f'keys from {filename}; they keep their initialisation: '
                f'{summarize_names(dropped)}')
        elif reinit:
            self.logger.warning(
                f'DecoupledRunner: decoupled.reinit matched no key of '
                f'{filename} (already removed, e.g. by ckpt_surgery.py)')
        self._check_loadable(filename, state, own, reinit, advice)
        # modules whose weights load into another variant of themselves
        # (e.g. a cosine mask predictor) check the checkpoint's config
        for name, m in model.named_modules():
            check = getattr(m, 'check_stage1_checkpoint', None)
            if callable(check):
                check(checkpoint, name, filename, advice=advice)
        checkpoint['state_dict'] = state
        _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=[])
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _check_same_model(self, filename: str, state: dict,
                          model: nn.Module, reinit: List,
                          advice: '_Lazy') -> None:
        r = compare_with_checkpoint(model, state, reinit)
        if r['other_model']:
            cfg = self._config_file()
            lines = [
                f'{filename} is not a stage-1 checkpoint of this model'
                f'{f" ({cfg})" if cfg else ""} but of another architecture: '
                f"it holds {len(r['matched'])} of the model's "
                f"{len(r['params'])} parameter tensors with the right shape "
                f"({r['value_fraction']:.0%} of the parameter values)."
            ]
            if r['missing']:
                lines.append(f"  missing ({len(r['missing'])}): "
                             f"{summarize_names(r['missing'], 6)}")
            if r['unexpected']:
                lines.append(
                    f"  in the checkpoint, not in the model "
                    f"({len(r['unexpected'])}): "
                    f"{summarize_names(r['unexpected'], 6)}")
            if r['shape_mismatch']:
                lines.append(
                    f"  other shapes ({len(r['shape_mismatch'])}): "
                    f"{summarize_names(r['shape_mismatch'], 6)}")
            lines.append('`decoupled.reinit` cannot fix this: start from a '
                         'checkpoint of the stage-1 model. ' + str(advice))
            raise Stage1MismatchError('\n'.join(lines))
        if r['unexpected']:
            self.logger.warning(
                f"DecoupledRunner: {filename} holds "
                f"{len(r['unexpected'])} layer weights this model has no "
                f"place for, ignored: {summarize_names(r['unexpected'], 6)}"
                ' (expected if stage 2 drops a branch; otherwise the '
                'checkpoint is of another model)')

    def _check_loadable(self, filename: str, state: dict, own: dict,
                        reinit: List, advice=None) -> None:
        keys = [
            k for k, v in state.items()
            if k in own and isinstance(v, torch.Tensor)
            and tuple(v.shape) != tuple(own[k].shape)
        ]
        bad = [
            f'{k}: checkpoint {tuple(state[k].shape)} vs model '
            f'{tuple(own[k].shape)}' for k in keys
        ]
        if bad:
            params = dict(_unwrap(self.model).named_parameters())
            frozen = [
                k for k in keys
                if k not in params or not params[k].requires_grad
            ]
            msg = (f'{len(bad)} tensors of {filename} do not fit the model:'
                   '\n  ' + '\n  '.join(bad[:10]) +
                   '\nAdd them to `decoupled.reinit` (they are then trained '
                   'or kept from their fresh initialisation) or resize them '
                   'with tools/misc/ckpt_surgery.py --method resize')
            if frozen:
                msg += (
                    f'\n{len(frozen)} of them are frozen in this stage 2 '
                    f'({summarize_names(frozen, 6)}): re-initialised they '
                    'would stay random, so for those the checkpoint is the '
                    'wrong one (another number of classes or head layout?). '
                    + (str(advice) if advice is not None else ''))
            raise FreezeError(msg)
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


class _Lazy:
    """A string computed on first use (advice that reads config files is
    only needed when an error is raised)."""

    def __init__(self, fn: Callable[[], str]):
        self._fn, self._value = fn, None

    def __str__(self) -> str:
        if self._value is None:
            self._value = self._fn()
        return self._value
