"""Name-pattern freezing for decoupled (two-stage) training.

Stage 2 of cRT / LWS / BAGS (Kang et al., ICLR 2020; Li et al., CVPR 2020)
re-trains only a few layers of a stage-1 detector, e.g. ``fc_cls``. Layers
are selected by regular expressions that ``re.match`` the full parameter
name (``roi_head.bbox_head.fc_cls.weight``), as in the ``decoupled`` config
block read by :class:`mmlt.engine.runner.DecoupledRunner`.
"""
import difflib
import re
import types
from collections import OrderedDict
from typing import Dict, Iterable, List, Sequence, Tuple

import torch.nn as nn

__all__ = [
    'compile_patterns', 'freeze_by_patterns', 'lock_eval_mode',
    'is_eval_locked', 'summarize_names', 'split_by_patterns',
    'closest_names', 'FreezeError'
]


class FreezeError(ValueError):
    """A ``decoupled`` pattern or the selection it makes is unusable."""


def compile_patterns(patterns, key: str) -> List[re.Pattern]:
    """Compile ``patterns`` (str or list of str); ``key`` names the config
    entry in error messages (e.g. ``decoupled.trainable``)."""
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple)):
        raise FreezeError(f'`{key}` must be a list of regular expressions, '
                          f'got {type(patterns).__name__}: {patterns!r}')
    out = []
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            raise FreezeError(f'`{key}[{i}]` must be a string (a regular '
                              f'expression), got {p!r}')
        try:
            out.append(re.compile(p))
        except re.error as e:
            raise FreezeError(
                f'`{key}[{i}]` = {p!r} is not a valid regular expression: '
                f'{e}') from e
    return out


def _matches(name: str, patterns: Sequence[re.Pattern]) -> bool:
    return any(p.match(name) for p in patterns)


def closest_names(pattern: str, names: Sequence[str], n: int = 5) -> List[str]:
    """Names that look like ``pattern`` (regex escapes removed), to put in
    an error message next to a pattern that matched nothing."""
    plain = re.sub(r'\([^)]*\)[?*+]?', '', pattern)  # optional groups
    plain = re.sub(r'\\(.)', r'\1', plain).strip('^$')
    close = difflib.get_close_matches(plain, names, n=n, cutoff=0.3)
    if not close:
        head = plain.split('.')[0]
        close = [x for x in names if x.startswith(head)][:n] or list(
            names[:n])
    return close


def _unmatched_error(key: str, pattern: str, names: Sequence[str],
                     what: str) -> FreezeError:
    near = '\n  '.join(closest_names(pattern, names))
    return FreezeError(
        f'`{key}` pattern {pattern!r} matches no {what} (patterns are '
        f're.match-ed against full names; escape dots as \\.). Names near '
        f'it:\n  {near}')


def freeze_by_patterns(model: nn.Module,
                       trainable,
                       key: str = 'decoupled.trainable'
                       ) -> Tuple[List[str], List[str]]:
    """Set ``requires_grad`` of every parameter of ``model``: True when its
    name matches one of the ``trainable`` patterns, else False.

    Returns (trainable names, frozen names). Raises :class:`FreezeError` if
    a pattern matches no parameter or nothing ends up trainable.
    """
    pats = compile_patterns(trainable, key)
    if not pats:
        raise FreezeError(
            f'`{key}` is empty: list the parameters to train, e.g. '
            r"[r'roi_head\.bbox_head\.fc_cls\.'] (or drop `decoupled` from "
            'the config to train everything)')
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    for p in pats:
        if not any(p.match(n) for n in names):
            raise _unmatched_error(key, p.pattern, names, 'parameter')
    on, off = [], []
    for name, param in named:
        train = _matches(name, pats)
        param.requires_grad_(train)
        (on if train else off).append(name)
    return on, off


# Modules whose forward depends on ``self.training`` without having to
# learn anything: normalisation layers with running statistics and
# stochastic regularisers.
def _stat_or_noise_types() -> tuple:
    types_ = [nn.modules.batchnorm._NormBase, nn.modules.dropout._DropoutNd]
    try:
        from mmcv.ops import SyncBatchNorm as MMCVSyncBN
        types_.append(MMCVSyncBN)
    except ImportError:  # pragma: no cover - mmcv without ops
        pass
    try:
        from mmcv.cnn.bricks.drop import DropPath
        types_.append(DropPath)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types_)


def _locked_train(self, mode: bool = True):
    """``Module.train`` of an eval-locked module: always eval."""
    return nn.Module.train(self, False)


def _force_eval_pre_hook(module, args):
    module.training = False


def lock_eval_mode(model: nn.Module,
                   keep_train=(),
                   key: str = 'decoupled.train_mode') -> List[str]:
    """Keep every norm-with-statistics / dropout module of ``model`` that has
    no trainable parameter of its own in eval mode for good.

    Frozen BatchNorm must not update its running statistics and a frozen
    feature extractor must be deterministic, whatever calls ``.train()``
    (mmengine's loops call ``model.train()`` every epoch and after each
    validation). Two mechanisms, because each alone has a gap:

    * ``train`` of the instance is replaced by one that always sets eval,
      so ``module.training`` reads False right after ``model.train()``
      (visible to code and tests that inspect the flag);
    * a forward pre-hook sets ``training = False`` before every call, which
      also covers a direct ``module.training = True`` and copies whose
      instance attribute was lost (pickling a bound method).

    GroupNorm/LayerNorm have no statistics, so frozen ones need nothing.
    Modules whose name matches ``keep_train`` are left alone.
    Returns the names of the locked modules.
    """
    keep = compile_patterns(keep_train, key)
    types_ = _stat_or_noise_types()
    modules = list(model.named_modules())
    for p in keep:
        if not any(p.match(n) for n, _ in modules):
            raise _unmatched_error(key, p.pattern, [n for n, _ in modules],
                                   'module')
    locked = []
    for name, m in modules:
        if not isinstance(m, types_) or _matches(name, keep):
            continue
        if any(p.requires_grad for p in m.parameters(recurse=False)):
            continue
        if not getattr(m, '_mmlt_eval_locked', False):
            m.train = types.MethodType(_locked_train, m)
            m.register_forward_pre_hook(_force_eval_pre_hook)
            m._mmlt_eval_locked = True
        m.training = False
        locked.append(name)
    return locked


def is_eval_locked(module: nn.Module) -> bool:
    return bool(getattr(module, '_mmlt_eval_locked', False))


def summarize_names(names: Iterable[str], max_items: int = 12) -> str:
    """Compress dotted names: ``a.b.{weight,bias}``; at most ``max_items``
    groups, then ``... (+k more)``."""
    groups: Dict[str, List[str]] = OrderedDict()
    for n in names:
        head, _, leaf = n.rpartition('.')
        groups.setdefault(head, []).append(leaf)
    parts = []
    for head, leaves in groups.items():
        tail = leaves[0] if len(leaves) == 1 else '{' + ','.join(leaves) + '}'
        parts.append(f'{head}.{tail}' if head else tail)
    if len(parts) > max_items:
        parts = parts[:max_items] + [f'... (+{len(parts) - max_items} more)']
    return ', '.join(parts)


def split_by_patterns(state_dict: Dict, patterns: Sequence[re.Pattern]
                      ) -> Tuple['OrderedDict', List[str]]:
    """(state dict without the keys matching ``patterns``, dropped keys)."""
    kept, dropped = OrderedDict(), []
    for k, v in state_dict.items():
        if _matches(k, patterns):
            dropped.append(k)
        else:
            kept[k] = v
    meta = getattr(state_dict, '_metadata', None)
    if meta is not None:
        kept._metadata = meta
    return kept, dropped
