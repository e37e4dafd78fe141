"""Checkpoint surgery for decoupled stage 2 (EQLv2 repo's
``tools/ckpt_surgery.py``, extended with ``resize``).

* ``remove``: drop the state-dict keys matching the patterns (default: every
  ``fc_cls`` of every stage) -> stage-2 training re-initialises them (cRT).
* ``reset``: keep every weight (LWS starts from the stage-1 classifier).
* ``resize``: give the matched output layers ``num_out`` rows: rows
  ``[0, min(old, new))`` are kept, new rows are drawn ``N(0, std^2)``
  (``std=0.01``, mmdet's ``fc_cls`` init) for weights and set to 0 for
  biases; extra rows are cut when shrinking (e.g. BAGS: C+1 -> C+1+G logits,
  whose head then re-trains ``fc_cls`` anyway).

Every method writes a fresh checkpoint: only ``state_dict`` plus a ``meta``
holding the stage-1 ``dataset_meta`` and a record of the surgery; optimizer,
message hub, schedulers, RNG state and epoch/iter are stripped, so the
result is a ``load_from`` start, not something to ``--resume``.
Patterns are regular expressions ``re.match``-ed against full state-dict
keys, like ``decoupled.trainable``.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch

__all__ = [
    'DEFAULT_KEYS', 'load_checkpoint_file', 'strip_checkpoint',
    'remove_keys', 'resize_rows', 'ckpt_surgery', 'CheckpointSurgeryError'
]

# every classifier layer named fc_cls, at any depth (Cascade/HTC stages too)
DEFAULT_KEYS = (r'(.+\.)?fc_cls\.', )
METHODS = ('remove', 'reset', 'resize')


class CheckpointSurgeryError(ValueError):
    """Bad input to checkpoint surgery (file, keys, sizes)."""


def load_checkpoint_file(path: str) -> dict:
    """Load a checkpoint (full unpickling: only use files you trust) and
    check that it holds a state dict."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    if not isinstance(ckpt, dict):
        raise CheckpointSurgeryError(
            f'{path} holds a {type(ckpt).__name__}, not a checkpoint dict')
    if 'state_dict' not in ckpt:
        # bare state dicts (torch.save(model.state_dict())) are accepted
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return dict(state_dict=OrderedDict(ckpt))
        raise CheckpointSurgeryError(
            f"{path} has no 'state_dict' entry (keys: {sorted(ckpt)[:8]})")
    return ckpt


def strip_checkpoint(ckpt: dict, record: Optional[dict] = None) -> dict:
    """Only the state dict and a small ``meta`` (dataset_meta, surgery)."""
    meta = dict()
    old_meta = ckpt.get('meta') or {}
    if 'dataset_meta' in old_meta:
        meta['dataset_meta'] = old_meta['dataset_meta']
    if record:
        meta['mmlt_ckpt_surgery'] = record
    return dict(state_dict=OrderedDict(ckpt['state_dict']), meta=meta)


def _compile(patterns: Sequence[str]) -> List[re.Pattern]:
    from mmlt.engine.runner.freeze import compile_patterns
    return compile_patterns(list(patterns), '--keys')


def _matched(state: Dict, patterns: Sequence[str]) -> List[str]:
    pats = _compile(patterns)
    keys = list(state)
    for p in pats:
        if not any(p.match(k) for k in keys):
            from mmlt.engine.runner.freeze import closest_names
            near = '\n  '.join(closest_names(p.pattern, keys))
            raise CheckpointSurgeryError(
                f'key pattern {p.pattern!r} matches no state-dict key of the '
                f'checkpoint (re.match on full keys). Keys near it:\n  {near}')
    return [k for k in keys if any(p.match(k) for p in pats)]


def remove_keys(state: Dict,
                patterns: Sequence[str] = DEFAULT_KEYS
                ) -> Tuple['OrderedDict', List[str]]:
    """(state dict without the matched keys, removed keys)."""
    removed = _matched(state, patterns)
    drop = set(removed)
    return OrderedDict((k, v) for k, v in state.items()
                       if k not in drop), removed


def resize_rows(state: Dict,
                num_out: int,
                patterns: Sequence[str] = DEFAULT_KEYS,
                std: float = 0.01,
                seed: int = 0) -> Tuple['OrderedDict', Dict[str, tuple]]:
    """Resize dim 0 of the matched tensors to ``num_out`` (see module doc).

    Returns (new state dict, {key: (old rows, new rows)}).
    """
    if isinstance(num_out, bool) or not isinstance(num_out, int) or \
            num_out <= 0:
        raise CheckpointSurgeryError(
            f'--num-out must be a positive int, got {num_out!r}')
    keys = _matched(state, patterns)
    gen = torch.Generator().manual_seed(int(seed))
    out, changes = OrderedDict(state), {}
    for k in keys:
        t = state[k]
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            raise CheckpointSurgeryError(
                f'{k} is not a tensor with an output dimension; narrow '
                '--keys to the weight/bias of the output layer')
        old = t.shape[0]
        keep = min(old, num_out)
        new = torch.zeros((num_out, ) + tuple(t.shape[1:]), dtype=t.dtype)
        new[:keep] = t[:keep]
        if num_out > old and t.dim() > 1:  # weights: fresh rows, bias: 0
            new[old:] = torch.randn(
                (num_out - old, ) + tuple(t.shape[1:]),
                generator=gen).to(t.dtype) * std
        out[k] = new
        changes[k] = (old, num_out)
    return out, changes


def ckpt_surgery(path: str,
                 method: str,
                 keys: Optional[Sequence[str]] = None,
                 num_out: Optional[int] = None,
                 std: float = 0.01,
                 seed: int = 0) -> Tuple[dict, List[str]]:
    """Load ``path`` and apply ``method``; returns (new checkpoint, log
    lines). Nothing is written."""
    if method not in METHODS:
        raise CheckpointSurgeryError(
            f'--method must be one of {METHODS}, got {method!r}')
    ckpt = load_checkpoint_file(path)
    state = ckpt['state_dict']
    patterns = list(keys) if keys else list(DEFAULT_KEYS)
    record = dict(source=osp.abspath(path), method=method)
    lines = []
    if method == 'reset':
        if keys:
            raise CheckpointSurgeryError(
                '--method reset keeps every weight; --keys is only for '
                'remove/resize')
    elif method == 'remove':
        state, removed = remove_keys(state, patterns)
        record['removed'] = removed
        lines += [f'removed {k}' for k in removed]
    else:
        if num_out is None:
            raise CheckpointSurgeryError('--method resize needs --num-out N')
        state, changes = resize_rows(state, num_out, patterns, std, seed)
        record.update(resized=changes, std=std, seed=seed)
        lines += [f'resized {k}: {a} -> {b} rows' for k, (a, b) in
                  changes.items()]
    dropped = sorted(set(ckpt) - {'state_dict', 'meta'})
    lines.append(f'stripped: meta (kept dataset_meta), {", ".join(dropped)}'
                 if dropped else 'stripped: meta (kept dataset_meta)')
    new = strip_checkpoint(dict(ckpt, state_dict=state), record)
    return new, lines
