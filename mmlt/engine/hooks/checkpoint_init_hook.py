"""Start a detector from a checkpoint of the same architecture trained on
another label set (e.g. an mmdet model-zoo COCO detector for LVIS, as the
BAGS baselines of Li et al., CVPR 2020 did).

mmengine's ``load_from`` would load such a checkpoint with ``strict=False``
and skip every shape-mismatched tensor with a warning, and it skips missing
keys just as quietly. :class:`CheckpointInitHook` is explicit instead::

    custom_hooks = [
        dict(type='CheckpointInitHook',
             checkpoint='https://download.openmmlab.com/.../x_coco.pth',
             # layers whose shape depends on the number of classes
             reinit=[r'roi_head\\.bbox_head\\.(\\d+\\.)?fc_(cls|reg)\\.',
                     r'roi_head\\.mask_head\\.(\\d+\\.)?conv_logits\\.'],
             # checkpoint keys of branches the model does not have
             drop=[r'roi_head\\.semantic_head\\.'])
    ]

Before the first training iteration, when the runner loaded nothing
(no ``load_from``, no resumed checkpoint), the hook loads ``checkpoint``:

* keys matching ``reinit`` whose shape differs from the model's are dropped
  (the layer keeps its fresh initialisation; a matching key with the
  model's shape, e.g. a class-agnostic ``fc_reg``, is kept) and named in the
  log;
* checkpoint keys matching ``drop`` are dropped and named in the log;
* anything else is an error: a checkpoint tensor the model has no place for,
  one with another shape, or a model weight the checkpoint lacks (it would
  stay at its random/ImageNet initialisation).

With a ``load_from`` or a resumed checkpoint the hook does nothing (it says
so in the log): ``--resume`` and stage-2 starts are never overwritten.
"""
from collections import OrderedDict
from typing import List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint

from mmdet.registry import HOOKS

__all__ = ['CheckpointInitHook', 'CheckpointInitError', 'filter_init_state']

# state-dict entries that are layer weights (BN's num_batches_tracked and
# loss/sampler buffers are not required to be in the checkpoint)
_WEIGHT_SUFFIXES = ('.weight', '.bias', '.running_mean', '.running_var')


class CheckpointInitError(ValueError):
    """The init checkpoint does not fit the model outside ``reinit``/``drop``."""


def _compile(patterns, key):
    from mmlt.engine.runner.freeze import compile_patterns
    return compile_patterns(list(patterns or []), key)


def filter_init_state(state: dict, own: dict, reinit: Sequence,
                      drop: Sequence = (), name: str = 'checkpoint'):
    """Check ``state`` (a checkpoint's state dict) against ``own`` (the
    model's) and remove what ``reinit``/``drop`` allow.

    Returns ``(kept state dict, reinit keys dropped as {key: (ckpt shape,
    model shape)}, dropped branch keys)``; raises
    :class:`CheckpointInitError` for anything else that does not fit.
    """
    from mmlt.engine.runner.freeze import summarize_names
    reinit = _compile(reinit, 'CheckpointInitHook.reinit')
    drop = _compile(drop, 'CheckpointInitHook.drop')
    for p in reinit:
        if not any(p.match(k) for k in own):
            raise CheckpointInitError(
                f'CheckpointInitHook: reinit pattern {p.pattern!r} matches '
                'no state-dict key of the model')
    kept, reinit_dropped, branch_dropped = OrderedDict(), OrderedDict(), []
    unexpected, bad_shape = [], []
    for k, v in state.items():
        if any(p.match(k) for p in drop):
            branch_dropped.append(k)
            continue
        if k not in own:
            unexpected.append(k)
            continue
        same = isinstance(v, torch.Tensor) and \
            tuple(v.shape) == tuple(own[k].shape)
        if not same and any(p.match(k) for p in reinit):
            reinit_dropped[k] = (tuple(getattr(v, 'shape', ())),
                                 tuple(own[k].shape))
            continue
        if not same:
            bad_shape.append(f'{k}: {name} {tuple(getattr(v, "shape", ()))}'
                             f' vs model {tuple(own[k].shape)}')
            continue
        kept[k] = v
    missing = [
        k for k in own if k not in kept and k not in reinit_dropped
        and k.endswith(_WEIGHT_SUFFIXES)
        and not any(p.match(k) for p in reinit)
    ]
    problems = []
    if unexpected:
        problems.append(
            f'{len(unexpected)} tensors of {name} have no place in the model'
            f' (add them to `drop` if that branch is left out on purpose): '
            f'{summarize_names(unexpected, 8)}')
    if bad_shape:
        problems.append(
            f'{len(bad_shape)} tensors of {name} have another shape and are '
            'not covered by `reinit`:\n  ' + '\n  '.join(bad_shape[:10]))
    if missing:
        problems.append(
            f'{len(missing)} model weights are not in {name} (they would '
            f'keep their initialisation): {summarize_names(missing, 8)}')
    if problems:
        raise CheckpointInitError(
            f'CheckpointInitHook: {name} is not a checkpoint of this '
            'architecture:\n' + '\n'.join(problems))
    return kept, reinit_dropped, branch_dropped


@HOOKS.register_module()
class CheckpointInitHook(Hook):
    """Initialise the detector from ``checkpoint`` before training, with the
    class-count-dependent layers (``reinit``) re-initialised; see the module
    docstring."""

    priority = 'VERY_HIGH'

    def __init__(self,
                 checkpoint: str,
                 reinit: List[str],
                 drop: Optional[List[str]] = None,
                 map_location: str = 'cpu'):
        if not checkpoint or not reinit:
            raise CheckpointInitError(
                'CheckpointInitHook needs a `checkpoint` and the `reinit` '
                'patterns of the layers whose shape depends on the classes')
        self.checkpoint = checkpoint
        self.reinit = list(reinit)
        self.drop = list(drop or [])
        self.map_location = map_location
        # fail at build time on a bad regular expression
        _compile(self.reinit, 'CheckpointInitHook.reinit')
        _compile(self.drop, 'CheckpointInitHook.drop')

    def before_train(self, runner) -> None:
        from mmlt.engine.runner.freeze import summarize_names
        if getattr(runner, '_has_loaded', False):
            runner.logger.info(
                'CheckpointInitHook: the runner already loaded a checkpoint '
                '(load_from or resume); not loading '
                f'{self.checkpoint}')
            return
        if runner.iter > 0 or runner.epoch > 0:
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        ckpt = _load_checkpoint(self.checkpoint,
                                map_location=self.map_location)
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
            else None
        if not isinstance(state, dict):
            raise CheckpointInitError(
                f'CheckpointInitHook: {self.checkpoint} holds no state dict')
        state = OrderedDict(
            (k[len('module.'):] if k.startswith('module.') else k, v)
            for k, v in state.items())
        kept, reinit, dropped = filter_init_state(
            state, model.state_dict(), self.reinit, self.drop,
            name=self.checkpoint)
        if not reinit:
            runner.logger.warning(
                f'CheckpointInitHook: every `reinit` layer of '
                f'{self.checkpoint} already has the model\'s shape: loading '
                'it whole (a checkpoint of this label set?)')
        model.load_state_dict(kept, strict=False)
        runner.logger.info(
            f'CheckpointInitHook: loaded {len(kept)} tensors from '
            f'{self.checkpoint}; re-initialised (class-count layers, '
            f'checkpoint -> model shape): ' + ', '.join(
                f'{k} {a}->{b}' for k, (a, b) in reinit.items()) +
            (f'; dropped branch keys: {summarize_names(dropped)}'
             if dropped else ''))
