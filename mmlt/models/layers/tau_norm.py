"""tau-normalisation of classifier weights (Kang et al., "Decoupling
Representation and Classifier for Long-Tailed Recognition", ICLR 2020)."""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'tau_normalize', 'select_rows', 'classifier_weight_keys',
    'tau_normalize_state_dict', 'row_norm_summary'
]

#: state-dict keys of softmax R-CNN classifiers: ``roi_head.bbox_head.
#: fc_cls.weight`` and every stage of Cascade/HTC heads
#: (``roi_head.bbox_head.2.fc_cls.weight``).
CLS_WEIGHT_PATTERN = r'(.*\.)?fc_cls\.weight$'
#: accepted group names: LVIS frequency groups and the background row
GROUP_NAMES = ('r', 'c', 'f', 'bg')


def tau_normalize(weight: Tensor,
                  tau: float,
                  rows: Optional[Union[Sequence[int], Tensor]] = None,
                  eps: float = 1e-12) -> Tensor:
    r"""Return a copy of ``weight`` with rows rescaled by their norm:

    .. math:: \tilde w_j = w_j / \lVert w_j \rVert_2^{\tau}

    for ``j`` in ``rows`` (all rows when None); the other rows are copied
    unchanged. tau = 0 is the identity, tau = 1 gives unit-norm rows; in
    general the new norm is ``||w_j||^(1 - tau)``. All-zero rows stay zero.

    Args:
        weight (Tensor): [K, D] classifier weight (one row per class).
        tau (float): the exponent (>= 0 in practice; not restricted).
        rows (sequence[int] | Tensor, optional): row indices to normalise.
        eps (float): floor of the norm, only matters for zero rows.
    """
    if weight.dim() != 2:
        raise ValueError('tau_normalize expects a [K, D] weight matrix, got '
                         f'shape {tuple(weight.shape)}')
    out = weight.detach().clone()
    if rows is None:
        idx = torch.arange(weight.shape[0], device=weight.device)
    else:
        idx = torch.as_tensor(rows, dtype=torch.long, device=weight.device)
        idx = idx.reshape(-1)
        if idx.numel() and (idx.min() < 0 or idx.max() >= weight.shape[0]):
            raise ValueError(f'tau_normalize: rows must lie in [0, '
                             f'{weight.shape[0]}), got [{int(idx.min())}, '
                             f'{int(idx.max())}]')
    if idx.numel() == 0:
        return out
    # norms in fp64 so that a tau sweep is exact for fp16/bf16 checkpoints
    sub = out[idx].double()
    norm = sub.norm(dim=1, keepdim=True).clamp(min=eps)
    out[idx] = (sub / norm.pow(float(tau))).to(out.dtype)
    return out


def select_rows(groups: Sequence[str], select: Iterable[str]) -> List[int]:
    """Classifier rows of the chosen groups for a softmax head with C + 1
    rows (labels 0..C-1 foreground, row C background).

    Args:
        groups: per-class r/c/f letters in label order
            (``ClassStats.groups``), length C.
        select: names among 'r', 'c', 'f', 'bg'.

    Returns:
        list[int]: sorted row indices.
    """
    select = list(select)
    bad = [g for g in select if g not in GROUP_NAMES]
    if bad:
        raise ValueError(f'unknown group(s) {bad}; choose among '
                         f'{list(GROUP_NAMES)} (bg = background row)')
    letters = np.asarray(groups).reshape(-1)
    rows = np.flatnonzero(np.isin(letters, [g for g in select if g != 'bg']))
    rows = rows.tolist()
    if 'bg' in select:
        rows.append(len(letters))
    return sorted(rows)


def classifier_weight_keys(state_dict: Dict[str, Tensor],
                           pattern: str = CLS_WEIGHT_PATTERN) -> List[str]:
    """Keys of every ``fc_cls.weight`` (all stages of cascade heads)."""
    regex = re.compile(pattern)
    return [
        k for k, v in state_dict.items()
        if regex.match(k) and torch.is_tensor(v) and v.dim() == 2
    ]


def tau_normalize_state_dict(state_dict: Dict[str, Tensor],
                             tau: float,
                             rows: Optional[Sequence[int]] = None,
                             num_classes: Optional[int] = None,
                             pattern: str = CLS_WEIGHT_PATTERN) -> List[str]:
    """tau-normalise every classifier weight of ``state_dict`` in place.

    Biases are kept as they are (the detection variant of tau-norm: only
    the weight norms are balanced).

    Args:
        state_dict: model state dict (modified in place).
        tau: exponent.
        rows: rows to normalise (None: all).
        num_classes: C; when given every classifier must have C + 1 rows
            (softmax head), otherwise a ValueError names the key.
        pattern: regex of the weight keys.

    Returns:
        list[str]: the keys that were changed.
    """
    keys = classifier_weight_keys(state_dict, pattern)
    if not keys:
        raise KeyError(
            'no classifier weight matching '
            f'{pattern!r} in the checkpoint; tau-norm needs a softmax bbox '
            'head with an fc_cls layer')
    for k in keys:
        w = state_dict[k]
        if num_classes is not None and w.shape[0] != num_classes + 1:
            raise ValueError(
                f'{k} has {w.shape[0]} rows but the class statistics have '
                f'{num_classes} classes (expected {num_classes} + 1 rows of '
                'a softmax head with background); use statistics of this '
                "model's training set")
        state_dict[k] = tau_normalize(w, tau, rows)
    return keys


def row_norm_summary(weight: Tensor, groups: Sequence[str]) -> Dict[str, dict]:
    """Per-group statistics of the row norms of a [C + 1, D] weight:
    ``{'r'|'c'|'f'|'bg': dict(n, mean, min, max)}`` (empty groups left out).
    """
    norms = weight.detach().double().norm(dim=1).cpu().numpy()
    letters = np.append(np.asarray(groups).reshape(-1), 'bg')
    if len(letters) != len(norms):
        raise ValueError(f'weight has {len(norms)} rows, expected '
                         f'{len(letters)} (C classes + background)')
    out = {}
    for g in GROUP_NAMES:
        sel = norms[letters == g]
        if len(sel):
            out[g] = dict(
                n=int(len(sel)),
                mean=float(sel.mean()),
                min=float(sel.min()),
                max=float(sel.max()))
    return out
