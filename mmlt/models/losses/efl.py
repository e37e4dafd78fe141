r"""Equalized Focal Loss and Equalized Quality Focal Loss (Li et al.,
"Equalized Focal Loss for Dense Long-Tailed Object Detection", CVPR 2022).

Both are sigmoid focal losses whose focusing factor depends on the class:

.. math::
    \gamma_j = \gamma_b + s\,(1 - g_j), \qquad w_j = \gamma_j / \gamma_b

with ``g_j`` in [0, 1] the accumulated ratio of positive to negative
gradient magnitude of class j (rare classes: small ``g_j`` -> larger
focusing and weighting factors).  ``gamma_j`` and ``w_j`` are constants
for autograd.

The dense part of both losses (every logit a negative, ``p^gamma_j
softplus(z)``) is evaluated by :class:`_EqualizedFocalFn` in one pass that
also produces the gradient w.r.t. the logits (saved for backward) and the
per-class gradient statistics (softplus, exp, sigmoid and seven cheap
in-place passes over three [N, C] buffers); the ``P`` target entries are
then corrected with ``P``-sized gathers.  Apart from the gradient no
[N, C] tensor outlives the forward.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmdet.registry import MODELS
from mmlt.utils.dist import all_reduce_sum
from .utils import compute_dtype, group_means

__all__ = [
    'EqualizedFocalLoss', 'EqualizedQualityFocalLoss',
    'equalized_focal_loss', 'equalized_quality_focal_loss'
]

#: config key of a dense detector's classification loss
DENSE_HEAD_KEY = 'model.bbox_head'
#: mmdet's ``weight_reduce_loss`` adds this to ``avg_factor``
_AVG_EPS = torch.finfo(torch.float32).eps

Number = Union[int, float]


# ----------------------------------------------------------------- autograd
def _softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))``; torch's default linear cut-off at 20 is exact
    in fp32 only, fp64 needs 40."""
    return F.softplus(x, threshold=40. if x.dtype == torch.float64 else 20.)


class _EqualizedFocalFn(torch.autograd.Function):
    r"""Row losses of EFL / EQFL, their gradient and gradient statistics.

    Every entry is first treated as a negative,

    .. math::
        \ell^-_{ij} = c_j\,p_{ij}^{\gamma_j}\,\mathrm{softplus}(z_{ij}),
        \qquad
        \partial_z \ell^-_{ij} = c_j\,p_{ij}^{\gamma_j}\,
        (\gamma_j (1 - p_{ij})\,\mathrm{softplus}(z_{ij}) + p_{ij})

    with ``c_j = scale * coef_neg_j`` folded into the exponent
    (``exp(gamma_j log p + log c_j)``, ``log p = z - softplus(z)``) and
    ``d/dz = c p^gamma p + gamma (1 - p) l^-`` (no softplus(z) needed after
    the loss); then the target entries ``(rows, cols)`` are swapped for the
    positive term (focal: ``c^+_j (1-p)^gamma_j softplus(-z)``; quality:
    ``c^+_j |q - p|^gamma_j BCE(z, q)``).  Weights are >= 0, so the
    negatives' gradient needs no ``abs`` for the statistics.

    Args (of ``apply``):
        z: [N, C] logits (fp32/fp64, contiguous).
        rows, cols: [P] int64 target entries (unique).
        r: [N] row weights (ignored rows 0).
        elem_w: [N, C] element weights or None.
        gamma: [C] focusing factors; log_coef: [C] ``log(c_j)``.
        pos_coef: [C] ``c^+_j`` (including ``scale``).
        score: [P] quality targets (EQFL) or None (EFL).
        need_grad: save the gradient for backward.
        with_stats: also return [2, C] (positive, negative) sums of the
            gradient magnitude of ``sum(output)``.

    Returns:
        ([N] weighted row losses ``r_i sum_j l_ij``, stats or None).
    """

    @staticmethod
    def forward(ctx, z, rows, cols, r, elem_w, gamma, log_coef, pos_coef,
                score, need_grad, with_stats):
        # under AMP autocast the products would run in half precision
        with torch.autocast(z.device.type, enabled=False):
            return _EqualizedFocalFn._forward(ctx, z, rows, cols, r, elem_w,
                                              gamma, log_coef, pos_coef,
                                              score, need_grad, with_stats)

    @staticmethod
    def _forward(ctx, z, rows, cols, r, elem_w, gamma, log_coef, pos_coef,
                 score, need_grad, with_stats):
        want_grad = need_grad or with_stats
        z_pos = z[rows, cols]
        # ---- dense part: every entry as a negative.  Three [N, C]
        # buffers, in place: sp -> loss, log p -> c p^gamma -> (..), p -> grad
        sp = _softplus(z)
        pgc = torch.sub(z, sp)  # log p (accurate where p^gamma matters)
        torch.addcmul(log_coef, pgc, gamma, out=pgc)
        pgc.exp_()  # c_j p^gamma_j
        grad = torch.sigmoid(z) if want_grad else None
        neg_loss = sp.mul_(pgc)  # l-: c p^gamma softplus(z)
        if want_grad:
            # d l- / dz = p c p^gamma + gamma (1 - p) l-
            pgc.addcmul_(neg_loss, gamma, value=-1)
            grad.mul_(pgc).addcmul_(neg_loss, gamma)
            if elem_w is not None:
                grad.mul_(elem_w)
        del pgc
        if elem_w is not None:
            neg_loss.mul_(elem_w)
        row = neg_loss.sum(1)
        neg_at_pos = neg_loss[rows, cols]
        del neg_loss, sp

        # ---- target entries
        g_pos = gamma[cols]
        c_pos = pos_coef[cols]
        if elem_w is not None:
            c_pos = c_pos * elem_w[rows, cols]
        p_pos = torch.sigmoid(z_pos)
        q_pos = torch.sigmoid(-z_pos)
        if score is None:  # focal: c (1-p)^g softplus(-z)
            mod = q_pos.pow(g_pos)
            spn = _softplus(-z_pos)
            loss_pos = c_pos * mod * spn
            grad_pos = -c_pos * mod * (g_pos * p_pos * spn + q_pos)
        else:  # quality: c |q-p|^g BCE(z, q)
            d = p_pos - score
            ad = d.abs()
            bce = F.binary_cross_entropy_with_logits(
                z_pos, score, reduction='none')
            mod = ad.pow(g_pos)
            loss_pos = c_pos * mod * bce
            grad_pos = c_pos * (
                g_pos * ad.pow(g_pos - 1) * torch.sign(d) * p_pos * q_pos *
                bce + mod * d)
        row.index_add_(0, rows, loss_pos - neg_at_pos)

        stats = None
        if want_grad:
            if with_stats:
                # exclude the target entries exactly (no cancellation)
                grad[rows, cols] = 0
                neg = torch.mv(grad.t(), r)
                pos = torch.zeros_like(neg).index_add_(
                    0, cols, grad_pos.abs() * r[rows])
                stats = torch.stack([pos, neg])
                ctx.mark_non_differentiable(stats)
            grad[rows, cols] = grad_pos
        if need_grad:
            ctx.save_for_backward(grad, r)
        else:
            ctx.save_for_backward(None, None)
        return row * r, stats

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_row, grad_stats):
        grad, r = ctx.saved_tensors
        if grad is None:
            return (None, ) * 11
        with torch.autocast(grad.device.type, enabled=False):
            v = (grad_row.to(grad.dtype) * r)[:, None]
            out = grad * v
        return (out, ) + (None, ) * 10


# ------------------------------------------------------------- functional
def _check_reduction(reduction: str, avg_factor) -> None:
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(
            f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if avg_factor is not None and reduction == 'sum':
        # as mmdet's weight_reduce_loss
        raise ValueError('avg_factor can not be used with reduction="sum"')


def _scale(reduction: str, avg_factor, count: int,
           loss_weight: float) -> Union[float, Tensor]:
    """``loss_weight / D``, D as mmdet's ``weight_reduce_loss``: mean ->
    ``avg_factor + eps`` or the number of loss elements, else 1."""
    if reduction != 'mean':
        return float(loss_weight)
    if avg_factor is None:
        return float(loss_weight) / max(count, 1)
    if isinstance(avg_factor, Tensor):
        return loss_weight / (avg_factor.detach().reshape(()) + _AVG_EPS)
    return float(loss_weight) / (float(avg_factor) + _AVG_EPS)


def _check_pred(owner: str, pred: Tensor, class_gamma: Tensor) -> None:
    if pred.dim() != 2:
        raise ValueError(f'{owner} expects pred of shape [N, C] (flattened '
                         f'anchors x classes), got {tuple(pred.shape)}')
    c = pred.shape[1]
    if class_gamma.shape != (c, ):
        raise ValueError(
            f'{owner}: pred has {c} class columns but the loss has '
            f'{class_gamma.numel()} classes; set '
            f'{DENSE_HEAD_KEY}.loss_cls.num_classes to '
            f'{DENSE_HEAD_KEY}.num_classes (use_sigmoid=True: C columns, '
            'no background column)')


def _split_weight(owner: str, weight: Optional[Tensor], n: int, c: int,
                  dtype: torch.dtype, allow_elem: bool
                  ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """(row weight [N], element weight [N, C]); at most one is set.  As
    mmdet's focal losses: [N], [N, 1], [N, C] or [N * C]."""
    if weight is None:
        return None, None
    if weight.dim() == 1 and weight.shape[0] == n or \
            weight.dim() == 2 and tuple(weight.shape) == (n, 1):
        return weight.reshape(n).to(dtype), None
    if allow_elem and weight.numel() == n * c and n > 0:
        return None, weight.reshape(n, c).to(dtype).contiguous()
    shapes = f'({n},), ({n}, 1)' + (f', ({n}, {c}) or ({n * c},)'
                                     if allow_elem else '')
    raise ValueError(f'{owner}: weight must have shape {shapes}; got '
                     f'{tuple(weight.shape)}')


def _soft_entries(owner: str, target: Tensor) -> Tuple[Tensor, Tensor]:
    """(rows, cols) of the non-zero entries of a soft [N, C] target with
    values in [0, 1] and at most one non-zero per row -- mmdet's
    ``YOLOXHead`` passes ``one_hot(label) * IoU`` of its positives."""
    if not target.is_floating_point():
        raise ValueError(f'{owner}: a soft [N, C] target must be floating '
                         f'point, got {target.dtype}')
    if not bool(((target >= 0) & (target <= 1)).all()):
        raise ValueError(f'{owner}: soft [N, C] target values must lie in '
                         '[0, 1]')
    nonzero = target != 0
    if bool((nonzero.sum(1) > 1).any()):
        raise ValueError(
            f'{owner}: a soft [N, C] target may have at most one non-zero '
            'entry per row (one_hot(label) * quality, as YOLOXHead passes '
            'it); multi-label soft targets are not supported')
    return torch.nonzero(nonzero, as_tuple=True)


def _targets(owner: str, target: Tensor, n: int,
             c: int) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Target entries (rows, cols) and the mask of ignored rows (label <
    0) or None.  ``target``: labels [N] in [0, C] (C = background, as
    mmdet's dense heads pass them), a 0/1 one-hot / multi-hot [N, C], or a
    soft [N, C] with at most one non-zero in (0, 1] per row (YOLOXHead's
    ``one_hot(label) * IoU``; non-zero = target entry, the value is
    dropped)."""
    if target.dim() == 1 and target.shape[0] == n:
        if target.is_floating_point():
            raise ValueError(f'{owner}: label indices must be integers, got '
                             f'{target.dtype}')
        label = target.long()
        rows = torch.nonzero((label >= 0) & (label < c)).squeeze(1)
        return rows, label[rows], label < 0
    if tuple(target.shape) == (n, c):
        if bool(((target == 0) | (target == 1)).all()):
            rows, cols = torch.nonzero(target, as_tuple=True)
        else:
            rows, cols = _soft_entries(owner, target)
        return rows, cols, None
    raise ValueError(f'{owner}: target must be labels of shape ({n},) or '
                     f'a one-hot / soft target of shape ({n}, {c}); got '
                     f'{tuple(target.shape)}')


def _soft_to_label_score(owner: str, target: Tensor, n: int,
                         c: int) -> Tuple[Tensor, Tensor]:
    """(labels [N] in [0, C], scores [N]) of a soft [N, C] target (at most
    one non-zero per row): label = the column of the non-zero entry, score
    = its value; all-zero rows are background (label C, score 0)."""
    if tuple(target.shape) != (n, c):
        raise ValueError(
            f'{owner}: target must be a (labels, scores) tuple (as GFLHead '
            f'passes it) or a soft target of shape ({n}, {c}) (as YOLOXHead '
            f'passes it); got a tensor of shape {tuple(target.shape)}')
    rows, cols = _soft_entries(owner, target)
    label = torch.full((n, ), c, dtype=torch.long, device=target.device)
    label[rows] = cols
    score = torch.zeros(n, dtype=target.dtype, device=target.device)
    score[rows] = target[rows, cols]
    return label, score


def _row_weights(r: Optional[Tensor], ignored: Optional[Tensor], n: int,
                 z: Tensor) -> Tensor:
    if r is None:
        r = z.new_ones(n)
    if ignored is not None:
        r = r.masked_fill(ignored, 0.)
    return r.contiguous()


def _run(owner: str, z: Tensor, rows: Tensor, cols: Tensor, r: Tensor,
         elem_w: Optional[Tensor], class_gamma: Tensor, coef_neg: Tensor,
         coef_pos: Tensor, score: Optional[Tensor], scale,
         grad_stats: bool) -> Tuple[Tensor, Optional[Tensor]]:
    dt = z.dtype
    if isinstance(scale, Tensor):
        scale = scale.to(device=z.device, dtype=dt)
    elif scale < 0:
        raise ValueError(f'{owner}: loss_weight must be >= 0')
    gamma = class_gamma.to(device=z.device, dtype=dt)
    log_coef = torch.log(coef_neg.to(device=z.device, dtype=dt) * scale)
    pos_coef = coef_pos.to(device=z.device, dtype=dt) * scale
    need_grad = z.requires_grad and torch.is_grad_enabled()
    return _EqualizedFocalFn.apply(z, rows, cols, r, elem_w, gamma, log_coef,
                                   pos_coef, score, need_grad, grad_stats)


def _prepare(owner: str, pred: Tensor, class_gamma: Tensor, gamma_b: float):
    _check_pred(owner, pred, class_gamma)
    if not gamma_b > 0:
        raise ValueError(f'{owner}: the base focusing factor must be > 0, '
                         f'got {gamma_b}')
    z = pred.to(compute_dtype(pred)).contiguous()
    class_gamma = class_gamma.detach().to(device=z.device, dtype=z.dtype)
    return z, class_gamma, class_gamma / gamma_b


def equalized_focal_loss(pred: Tensor,
                         target: Tensor,
                         class_gamma: Tensor,
                         weight: Optional[Tensor] = None,
                         gamma: float = 2.0,
                         alpha: float = 0.25,
                         reduction: str = 'mean',
                         avg_factor: Optional[Union[Number, Tensor]] = None,
                         loss_weight: float = 1.0,
                         grad_stats: bool = False):
    r"""Equalized focal loss of logits ``pred`` [N, C].

    .. math::
        L = \frac{\text{loss\_weight}}{D}\sum_{ij} r_{ij}\,\alpha_t\,
            \frac{\gamma_j}{\gamma}\,(1 - p_t)^{\gamma_j}\,(-\log p_t)

    ``p_t = p`` on target entries, ``1 - p`` elsewhere; ``alpha_t`` =
    ``alpha`` / ``1 - alpha``.  Reduction as mmdet's ``FocalLoss``:
    'mean' divides by ``avg_factor + eps`` or else by N*C, 'none' returns
    the [N, C] element losses (times weight and loss_weight).

    Args:
        pred: [N, C] logits (any float dtype; computed in fp32 / fp64).
        target: [N] labels in [0, C] (C = background; < 0 = ignored), a
            0/1 [N, C] one-hot / multi-hot, or a soft [N, C] target with
            at most one non-zero in (0, 1] per row (YOLOXHead's
            ``one_hot(label) * IoU``): non-zero entries are the target
            entries of binary focal targets, the value is dropped.
        class_gamma: [C] focusing factors ``gamma_j`` (constants).
        weight: [N], [N, 1], [N, C] or [N * C] weights (0 = ignored).
        gamma: base focusing factor (weighting factor ``gamma_j / gamma``).
        alpha: balance of target entries.
        grad_stats: also return the [2, C] per-class (target, non-target)
            sums of ``|dL/dpred|`` of the returned loss (for 'none' of its
            sum), with the weights, 1/D and loss_weight; rows with weight
            0 or label < 0 contribute nothing.

    Returns:
        Tensor, or (Tensor, stats) with ``grad_stats``.
    """
    owner = 'EqualizedFocalLoss'
    _check_reduction(reduction, avg_factor)
    if not 0 <= alpha <= 1:
        raise ValueError(f'{owner}: alpha must be in [0, 1], got {alpha}')
    z, class_gamma, wf = _prepare(owner, pred, class_gamma, gamma)
    n, c = z.shape
    rows, cols, ignored = _targets(owner, target, n, c)
    r, elem_w = _split_weight(owner, weight, n, c, z.dtype, True)
    if elem_w is not None and ignored is not None:
        elem_w = elem_w.masked_fill(ignored[:, None], 0.)
    r = _row_weights(r, ignored, n, z)
    scale = _scale(reduction, avg_factor, n * c, loss_weight)
    coef_neg, coef_pos = (1 - alpha) * wf, alpha * wf
    if reduction == 'none':
        loss = _efl_elementwise(z, rows, cols, class_gamma, coef_neg,
                                coef_pos) * scale
        loss = loss * (r[:, None] if elem_w is None else elem_w)
        stats = None
        if grad_stats:
            with torch.no_grad():
                stats = _run(owner, z.detach(), rows, cols, r, elem_w,
                             class_gamma, coef_neg, coef_pos, None, scale,
                             True)[1]
    else:
        rows_loss, stats = _run(owner, z, rows, cols, r, elem_w, class_gamma,
                                coef_neg, coef_pos, None, scale, grad_stats)
        loss = rows_loss.sum()
    return (loss, stats) if grad_stats else loss


def _efl_elementwise(z: Tensor, rows: Tensor, cols: Tensor, gamma: Tensor,
                     coef_neg: Tensor, coef_pos: Tensor) -> Tensor:
    """[N, C] element losses (autograd, reduction 'none')."""
    y = torch.zeros_like(z)
    y[rows, cols] = 1
    p = torch.sigmoid(z)
    one_minus_pt = p * (1 - y) + (1 - p) * y
    coef = coef_pos * y + coef_neg * (1 - y)
    return coef * one_minus_pt.pow(gamma) * \
        F.binary_cross_entropy_with_logits(z, y, reduction='none')


def equalized_quality_focal_loss(
        pred: Tensor,
        target: Tuple[Tensor, Tensor],
        class_gamma: Tensor,
        weight: Optional[Tensor] = None,
        beta: float = 2.0,
        reduction: str = 'mean',
        avg_factor: Optional[Union[Number, Tensor]] = None,
        loss_weight: float = 1.0,
        grad_stats: bool = False):
    r"""Equalized quality focal loss of logits ``pred`` [N, C].

    .. math::
        \ell_{ij} = \frac{\gamma_j}{\beta}\begin{cases}
            |q_i - p_{ij}|^{\gamma_j}\,\mathrm{BCE}(z_{ij}, q_i) &
                j = l_i \\
            p_{ij}^{\gamma_j}\,\mathrm{BCE}(z_{ij}, 0) & \text{else}
        \end{cases}, \qquad
        L = \frac{\text{loss\_weight}}{D}\sum_i r_i \sum_j \ell_{ij}

    (mmdet's ``quality_focal_loss`` with ``beta -> gamma_j`` times the
    weighting factor; no alpha).  Reduction as mmdet's
    ``QualityFocalLoss``: per-anchor losses [N], 'mean' divides by
    ``avg_factor + eps`` or else by N.

    Args:
        pred: [N, C] logits.
        target: (labels [N] in [0, C], C = background, < 0 ignored;
            quality scores [N]) as mmdet's ``GFLHead`` passes them, or a
            soft [N, C] target with values in [0, 1] and at most one
            non-zero per row (``YOLOXHead``'s ``one_hot(label) * IoU``):
            label = the non-zero column, score = its value; all-zero rows
            are background (ValueError for more than one non-zero).
        class_gamma: [C] focusing factors.
        weight: [N] or [N, 1] per-anchor weights.
        beta: base focusing factor (QFL's beta; weighting factor
            ``gamma_j / beta``).
        grad_stats: see :func:`equalized_focal_loss`.
    """
    owner = 'EqualizedQualityFocalLoss'
    _check_reduction(reduction, avg_factor)
    z, class_gamma, wf = _prepare(owner, pred, class_gamma, beta)
    n, c = z.shape
    if isinstance(target, Tensor):
        label, score = _soft_to_label_score(owner, target, n, c)
    elif isinstance(target, (tuple, list)) and len(target) == 2:
        label, score = target
    else:
        raise ValueError(f'{owner}: target must be a (labels, scores) tuple '
                         '(as GFLHead passes it) or a soft [N, C] tensor (as '
                         'YOLOXHead passes it)')
    if label.dim() != 1 or score.shape != label.shape:
        raise ValueError(f'{owner}: labels and scores must both have shape '
                         f'({n},); got {tuple(label.shape)} and '
                         f'{tuple(score.shape)}')
    rows, cols, ignored = _targets(owner, label, n, c)
    r, _ = _split_weight(owner, weight, n, c, z.dtype, False)
    r = _row_weights(r, ignored, n, z)
    scale = _scale(reduction, avg_factor, n, loss_weight)
    q = score.detach().to(z.dtype)[rows]
    rows_loss, stats = _run(owner, z, rows, cols, r, None, class_gamma, wf,
                            wf, q, scale, grad_stats)
    loss = rows_loss if reduction == 'none' else rows_loss.sum()
    return (loss, stats) if grad_stats else loss


# ---------------------------------------------------------------- modules
class _EqualizedBase(nn.Module):
    """Gradient statistics, focusing factors and logging shared by EFL and
    EQFL (see :class:`EqualizedFocalLoss`)."""

    EPS = 1e-10
    log_name = 'efl'

    def __init__(self, num_classes: int, base_gamma: float,
                 scale_factor: float, use_sigmoid: bool, activated: bool,
                 reduction: str, loss_weight: float) -> None:
        super().__init__()
        name = type(self).__name__
        if not use_sigmoid:
            raise ValueError(f'{name} is a sigmoid loss; use_sigmoid=False '
                             'is not supported')
        if activated:
            raise ValueError(f'{name} needs logits; activated=True is not '
                             'supported')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'{name}: reduction must be none/mean/sum, got '
                             f'{reduction!r}')
        if not base_gamma > 0:
            raise ValueError(f'{name}: the base focusing factor must be > 0')
        if scale_factor < 0 or loss_weight < 0:
            raise ValueError(f'{name}: scale_factor and loss_weight must be '
                             '>= 0')
        if int(num_classes) < 1:
            raise ValueError(f'{name}: num_classes must be >= 1')
        self.num_classes = int(num_classes)
        self.scale_factor = float(scale_factor)
        self.use_sigmoid = True
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        c = self.num_classes
        # float64: ~1e5 iterations x 1e5 anchors x C of small terms
        self.register_buffer('pos_grad', torch.zeros(c, dtype=torch.float64))
        self.register_buffer('neg_grad', torch.zeros(c, dtype=torch.float64))
        # g = 1: the first iteration is the plain focal loss (original init)
        self.register_buffer('pos_neg', torch.ones(c, dtype=torch.float64))
        # statistics of forwards whose backward has not run yet
        self.register_buffer('pending_grad',
                             torch.zeros(2, c, dtype=torch.float64))
        self._has_pending = False
        print_log(
            f'{name}: num_classes={c}, base gamma={base_gamma}, '
            f'scale_factor={scale_factor}',
            logger='current')

    # ------------------------------------------------------------ factors
    def focusing_factor(self) -> Tensor:
        """``gamma_j = gamma_b + s (1 - g_j)``, float64 [C]."""
        return self._base_gamma() + self.scale_factor * (1 - self.pos_neg)

    def weighting_factor(self) -> Tensor:
        """``gamma_j / gamma_b``, float64 [C]."""
        return self.focusing_factor() / self._base_gamma()

    def _base_gamma(self) -> float:
        raise NotImplementedError

    def group_weight_stats(
        self, groups: Union[Dict[str, Sequence[int]], Sequence[str],
                            np.ndarray]
    ) -> Dict[str, float]:
        """Mean focusing factor, weighting factor and ``g`` per class group
        (``{'gamma_r': .., 'weight_r': .., 'grad_ratio_r': .., ...}``;
        empty groups left out), for :class:`LossStateLoggerHook`."""
        gamma = self.focusing_factor()
        return group_means(
            dict(gamma=gamma, weight=gamma / self._base_gamma(),
                 grad_ratio=self.pos_neg), groups, self.num_classes)

    # --------------------------------------------------------- statistics
    @torch.no_grad()
    def _add_stats(self, stats: Tensor) -> None:
        """All-reduce this forward's [2, C] statistics and keep them
        pending; a non-finite sum (overflowed fp16 logits on any rank, a
        step GradScaler skips) is dropped on every rank."""
        both = all_reduce_sum(stats.detach().to(torch.float64).contiguous())
        ok = torch.isfinite(both).all()
        both = torch.where(ok, both, torch.zeros_like(both))
        self.pending_grad += both.to(self.pending_grad.device)
        self._has_pending = True

    @torch.no_grad()
    def commit_grad_stats(self) -> None:
        """Fold the pending statistics into ``pos_grad`` / ``neg_grad`` and
        update ``g = clamp(pos_grad / (neg_grad + 1e-10), 0, 1)``.  Runs
        automatically when backward reaches a loss of this module."""
        if not self._has_pending:
            return
        self._has_pending = False
        self.pos_grad += self.pending_grad[0]
        self.neg_grad += self.pending_grad[1]
        self.pending_grad.zero_()
        torch.div(self.pos_grad, self.neg_grad + self.EPS, out=self.pos_neg)
        self.pos_neg.clamp_(0, 1)

    def _on_backward(self, grad: Tensor) -> None:
        self.commit_grad_stats()

    def _finish(self, out) -> Tensor:
        if not self.training:
            return out
        loss, stats = out
        if stats is not None:
            self._add_stats(stats)
            if loss.requires_grad:
                loss.register_hook(self._on_backward)
        return loss

    def _reduction(self, reduction_override: Optional[str]) -> str:
        if reduction_override not in (None, 'none', 'mean', 'sum'):
            raise ValueError('reduction_override must be None/none/mean/sum, '
                             f'got {reduction_override!r}')
        return reduction_override or self.reduction


@MODELS.register_module(name=['EqualizedFocalLoss', 'EFL'])
class EqualizedFocalLoss(_EqualizedBase):
    r"""Equalized Focal Loss (EFL; Li et al., CVPR 2022), a drop-in
    replacement of mmdet's sigmoid ``FocalLoss`` in dense heads
    (``RetinaHead``, ``ATSSHead``, ...).

    .. math::
        \gamma_j = \gamma_b + s\,(1 - g_j), \qquad
        L = \frac{\text{loss\_weight}}{D}\sum_{ij} r_{ij}\,\alpha_t\,
            \frac{\gamma_j}{\gamma_b}\,(1 - p_t)^{\gamma_j}\,(-\log p_t)

    ``p_t = p_ij`` if j is the label of anchor i, else ``1 - p_ij``;
    ``alpha_t = alpha`` / ``1 - alpha``; ``gamma_j`` and the weighting
    factor ``gamma_j / gamma_b`` are constants for autograd.  ``r`` =
    ``weight`` ([N] ``label_weights`` or [N, C]), ``D = avg_factor + eps``
    as mmdet's ``weight_reduce_loss`` (else N*C for 'mean'); labels < 0
    are ignored (mmcv's CUDA op would treat them as background, UP as
    ignored).  With all ``g_j = 1`` this is mmdet's ``FocalLoss``.

    **Gradient statistics.**  In training mode (``self.training``) every
    forward computes, from the loss's own derivative, the per-class sums of
    ``|dL/dz|`` over target entries (``pos``) and over the other entries
    (``neg``) of the loss it returns -- the *total* loss: focal term,
    weighting factor, alpha, element weights, ``1/D`` and loss_weight
    included, rows with weight 0 or label < 0 contributing nothing (for
    reduction 'none': of the sum of the returned elements).  They are summed
    over ranks (``all_reduce_sum``, a no-op without torch.distributed; a
    collective, so every rank must call the loss equally often, as mmdet's
    heads do) and
    kept in the float64 buffer ``pending_grad``; when backward reaches the
    returned loss they are added to ``pos_grad`` / ``neg_grad`` (accumulated
    from the start, no decay) and ``g = clamp(pos_grad / (neg_grad +
    1e-10), 0, 1)`` (buffer ``pos_neg``, initially 1) is updated.  So all
    forwards of one step (e.g. the per-FPN-level calls of
    ``AnchorHead.loss_by_feat``) use the same ``g``, iteration 1 is the plain
    focal loss, and ``g`` changes after each backward -- as with the
    original, whose hook updates it after backward.  Statistics of a
    forward without backward (e.g. under ``torch.no_grad``) are folded in
    at the next backward; :meth:`commit_grad_stats` does it by hand.  All
    four buffers are checkpointed, so resuming is exact.

    Differences from the original's ``GradientCollector`` hook (a backward
    hook on the last classification conv): the gradient is computed
    analytically in fp32 (fp16/bf16 logits under AMP are cast first; the
    original supports fp32 only), it is that of the loss as returned, i.e.
    before GradScaler's loss scale or mmengine's division for gradient
    accumulation (which scale all iterations alike), every training forward
    counts (under gradient accumulation each micro-batch, folded at its
    backward; the hook assumes exactly ``fpn_levels`` backward calls per
    step and breaks with extra forwards or accumulation), a forward whose
    statistics are not finite on some rank is skipped, and the statistics
    are all-reduced in the forward (the same calls on every rank), not in
    a backward hook.

    **mmdet's YOLOXHead** (``reduction='sum'``, as its CrossEntropyLoss)
    calls ``loss_cls(cls_preds[pos_masks], one_hot(label) * IoU)``: the
    positives only (background is its objectness loss's job), with a soft
    [N_pos, C] target.  EFL takes its non-zero entries as the target
    entries of binary focal targets and drops the IoU value (use
    :class:`EqualizedQualityFocalLoss` for the quality-aware loss); a
    positive whose IoU target is exactly 0 becomes an all-negative row, as
    under mmdet's BCE.  The statistics are those of the returned sum;
    YOLOXHead then divides it by ``num_total_samples`` (the positives
    averaged over ranks), which the loss cannot see.  That factor is the
    same for every entry of the step on every rank, so each step's
    per-class ``pos / neg`` ratio is unaffected; ``g`` however is a ratio
    of sums accumulated over steps, which are therefore weighted by their
    raw gradient mass instead of mass / ``num_total_samples`` -- a
    reweighting of steps (exact if ``num_total_samples`` were constant),
    not of classes.  YOLOXHead skips ``loss_cls`` on a rank whose batch has
    no positive; the statistics' all-reduce then waits for that rank
    (with SimOTA every ground-truth box gets a positive, and YOLOX's
    pipeline drops images without boxes, so this needs a batch without
    boxes).

    Args:
        num_classes (int): C, must equal the head's ``num_classes``.
        use_sigmoid (bool): must be True (config compatibility).
        gamma (float): base focusing factor gamma_b (2.0).
        alpha (float): alpha-balance (0.25).
        scale_factor (float): s; 8.0 for RetinaNet-style heads, the
            original uses 4.0 for YOLOX-style heads (3 levels).
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier.
        activated (bool): must be False (logits needed).
    """

    log_name = 'efl'

    def __init__(self,
                 num_classes: int = 1203,
                 use_sigmoid: bool = True,
                 gamma: float = 2.0,
                 alpha: float = 0.25,
                 scale_factor: float = 8.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False) -> None:
        if not 0 <= alpha <= 1:
            raise ValueError(f'EqualizedFocalLoss: alpha must be in [0, 1], '
                             f'got {alpha}')
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        super().__init__(num_classes, gamma, scale_factor, use_sigmoid,
                         activated, reduction, loss_weight)

    def _base_gamma(self) -> float:
        return self.gamma

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[Number, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """mmdet's dense-head call: ``pred`` [N, C] logits, ``target`` [N]
        labels in [0, C] (C = background), 0/1 [N, C] or YOLOXHead's soft
        [N, C] (IoU value dropped), ``weight`` [N] or [N, C]."""
        out = equalized_focal_loss(
            pred,
            target,
            self.focusing_factor(),
            weight,
            gamma=self.gamma,
            alpha=self.alpha,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
            loss_weight=self.loss_weight,
            grad_stats=self.training)
        return self._finish(out)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, gamma={self.gamma}, '
                f'alpha={self.alpha}, scale_factor={self.scale_factor}, '
                f'loss_weight={self.loss_weight}')


@MODELS.register_module(name=['EqualizedQualityFocalLoss', 'EQFL'])
class EqualizedQualityFocalLoss(_EqualizedBase):
    r"""Equalized Quality Focal Loss (EQFL; Li et al., CVPR 2022), a
    drop-in replacement of mmdet's ``QualityFocalLoss`` (``GFLHead``).

    .. math::
        \gamma_j = \beta + s\,(1 - g_j), \quad
        \ell_{ij} = \frac{\gamma_j}{\beta}\begin{cases}
            |q_i - p_{ij}|^{\gamma_j}\,\mathrm{BCE}(z_{ij}, q_i) &
                j = l_i \\
            p_{ij}^{\gamma_j}\,\mathrm{BCE}(z_{ij}, 0) & \text{else}
        \end{cases}, \quad
        L = \frac{\text{loss\_weight}}{D}\sum_i r_i\sum_j \ell_{ij}

    as the original EQFL: QFL with the per-class focusing factor and every
    term times the weighting factor, no alpha.  ``q`` = IoU quality target,
    target = ``(labels, scores)``; ``r`` = [N] weight, ``D = avg_factor +
    eps`` (else N for 'mean'); 'none' returns the per-anchor losses [N].
    Labels < 0 are ignored (mmdet's QFL treats them as background).  With
    all ``g_j = 1`` this is mmdet's ``QualityFocalLoss``.

    Gradient statistics and state (buffers ``pos_grad``, ``neg_grad``,
    ``pos_neg`` = g, ``pending_grad``): as :class:`EqualizedFocalLoss`, of
    the EQFL loss itself; the positive part is the label entry of each
    foreground anchor (whatever its IoU target).

    In mmdet's ``YOLOXHead`` (``reduction='sum'``) the target is the soft
    ``one_hot(label) * IoU`` of the positives, converted to (label, IoU);
    a row whose IoU is exactly 0 is background (same loss -- the positive
    term with ``q = 0`` equals the negative one -- but its gradient counts
    as negative).  Scale of the statistics under YOLOX's later division
    by ``num_total_samples``: see :class:`EqualizedFocalLoss`.

    Args:
        num_classes (int): C, must equal the head's ``num_classes``.
        use_sigmoid (bool): must be True.
        beta (float): base focusing factor (QFL's beta, 2.0).
        scale_factor (float): s (8.0; the original's YOLOX configs: 4.0).
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier.
        activated (bool): must be False.
    """

    log_name = 'eqfl'

    def __init__(self,
                 num_classes: int = 1203,
                 use_sigmoid: bool = True,
                 beta: float = 2.0,
                 scale_factor: float = 8.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False) -> None:
        self.beta = float(beta)
        super().__init__(num_classes, beta, scale_factor, use_sigmoid,
                         activated, reduction, loss_weight)

    def _base_gamma(self) -> float:
        return self.beta

    def forward(self,
                pred: Tensor,
                target: Union[Tuple[Tensor, Tensor], Tensor],
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[Number, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """mmdet's ``GFLHead`` call: ``pred`` [N, C] logits, ``target`` =
        (labels [N] in [0, C], IoU scores [N]), ``weight`` [N]; or
        ``YOLOXHead``'s: ``target`` = soft [N, C] ``one_hot(label) * IoU``
        (converted to (labels, scores))."""
        out = equalized_quality_focal_loss(
            pred,
            target,
            self.focusing_factor(),
            weight,
            beta=self.beta,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
            loss_weight=self.loss_weight,
            grad_stats=self.training)
        return self._finish(out)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, beta={self.beta}, '
                f'scale_factor={self.scale_factor}, '
                f'loss_weight={self.loss_weight}')

