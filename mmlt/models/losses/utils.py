"""Shared pieces of the sigmoid long-tail classification losses (EQL, EQLv2).

Both losses are a re-weighted sigmoid BCE over ``K`` logit columns::

    L = loss_weight * sum_ij r_i * w_ij * BCE(z_ij, y_ij) / D
    w_ij = y_ij * pos_w[j] + (1 - y_ij) * neg_w[j] * (1 - e_i * m[j])

with ``r_i`` the per-RoI weight, ``y`` the one-hot target of label ``l_i``
(no positive when ``l_i >= K``), ``e_i`` a per-RoI and ``m`` a per-class 0/1
mask (EQL's ``E(r)`` and ``T_lambda``).  :class:`WeightedSigmoidBCE` computes
the sum and its gradient ``r_i * w_ij * (p_ij - y_ij)`` in one autograd node
without building ``y`` or ``w`` as full ``[N, K]`` tensors.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmdet.models.losses import accuracy

#: config key of the standard two-stage detectors' classifier.
HEAD_KEY = 'model.roi_head.bbox_head'


def compute_dtype(x: Tensor) -> torch.dtype:
    """fp16/bf16 logits (AMP) are processed in fp32, fp64 stays fp64."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


class WeightedSigmoidBCE(torch.autograd.Function):
    """``sum_ij r_i w_ij BCE(z_ij, y_ij)`` (weights above) and optionally the
    weighted column sums of ``p = sigmoid(z)`` over the negatives,
    ``sum_{i: l_i != j} r_i p_ij``, for gradient statistics.

    The loss uses ``BCE = softplus(z) - y z``: row sums of ``softplus(z) *
    neg_w (* m)`` are matrix-vector products, the label entries are
    corrected with ``N``-sized gathers.  Backward writes ``grad = r w (p -
    y)`` into one new tensor.  Apart from that gradient, ``softplus(z)``
    and (with statistics) ``p``, which backward reuses, no [N, K] tensor is
    created.

    Args (of ``apply``):
        z: [N, K] logits (fp32/fp64, contiguous).
        labels: [N] int64; ``>= K`` means no positive column.
        r: [N] per-RoI weights or None (all ones).
        neg_w, pos_w: [K] weights of ``z``'s dtype, or None (all ones).
        e: [N] bool or None; m: [K] bool or None (both or neither).
        with_stats: also return the negative column sums (else None).
    """

    @staticmethod
    def forward(ctx, z, labels, r, neg_w, pos_w, e, m, with_stats):
        # under AMP autocast the products would run in half precision
        with torch.autocast(z.device.type, enabled=False):
            return WeightedSigmoidBCE._forward(ctx, z, labels, r, neg_w, pos_w,
                                               e, m, with_stats)

    @staticmethod
    def _forward(ctx, z, labels, r, neg_w, pos_w, e, m, with_stats):
        rows = torch.nonzero(labels < z.shape[1]).squeeze(1)
        cols = labels[rows]
        sp = F.softplus(z)
        sp_lab = sp[rows, cols]
        z_lab = z[rows, cols]
        row = sp.sum(1) if neg_w is None else torch.mv(sp, neg_w)
        neg_lab = 1. if neg_w is None else neg_w[cols]
        if m is not None:
            mw = m.to(z.dtype) if neg_w is None else neg_w * m
            row = row - torch.mv(sp, mw) * e
            neg_lab = neg_lab * (1 - (e[rows] & m[cols]).to(z.dtype))
        del sp
        pos_lab = 1. if pos_w is None else pos_w[cols]
        # swap the negative term of each label entry for the positive one
        row = row.index_add(0, rows,
                            pos_lab * (sp_lab - z_lab) - neg_lab * sp_lab)
        total = row.sum() if r is None else torch.dot(row, r)

        stats = None
        if with_stats:
            p = torch.sigmoid(z)
            p_lab = p[rows, cols]
            # exclude the positives exactly (no cancellation)
            p[rows, cols] = 0
            stats = p.sum(0) if r is None else torch.mv(p.t(), r)
            p[rows, cols] = p_lab
            ctx.mark_non_differentiable(stats)
            ctx.save_for_backward(p, labels, r, neg_w, pos_w, e, m)
        else:
            ctx.save_for_backward(z, labels, r, neg_w, pos_w, e, m)
        ctx.p_saved = with_stats
        return total, stats

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_total, grad_stats):
        pz = ctx.saved_tensors[0]
        with torch.autocast(pz.device.type, enabled=False):
            grad = WeightedSigmoidBCE._backward(ctx, grad_total)
        return grad, None, None, None, None, None, None, None

    @staticmethod
    def _backward(ctx, grad_total):
        pz, labels, r, neg_w, pos_w, e, m = ctx.saved_tensors
        go = grad_total.to(pz.dtype)
        rs = go if r is None else r * go
        if ctx.p_saved:
            grad = pz * neg_w if neg_w is not None else pz.clone()
        else:
            grad = torch.sigmoid(pz)
            if neg_w is not None:
                grad.mul_(neg_w)
        grad.mul_(rs[:, None] if rs.dim() else rs)
        if m is not None:
            masked = torch.nonzero(e).squeeze(1)
            sub = grad.index_select(0, masked)
            sub.mul_((~m).to(grad.dtype))
            grad.index_copy_(0, masked, sub)
        rows = torch.nonzero(labels < grad.shape[1]).squeeze(1)
        cols = labels[rows]
        p_lab = pz[rows, cols]
        if not ctx.p_saved:
            p_lab = torch.sigmoid(p_lab)
        g_lab = (p_lab - 1) * (rs[rows] if rs.dim() else rs)
        if pos_w is not None:
            g_lab = g_lab * pos_w[cols]
        grad[rows, cols] = g_lab
        return grad


def prepare_inputs(owner: str, cls_score: Tensor, label: Tensor,
                   weight: Optional[Tensor], expected_cols: int,
                   cols_hint: str) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Validate shapes, cast logits for computation, flatten weights.

    Raises ValueError naming the config key when the classifier width is
    not ``expected_cols``.
    """
    if cls_score.dim() != 2:
        raise ValueError(f'{owner} expects cls_score of shape [N, '
                         f'{expected_cols}], got {tuple(cls_score.shape)}')
    if cls_score.shape[1] != expected_cols:
        raise ValueError(
            f'{owner}: cls_score has {cls_score.shape[1]} columns but the '
            f'loss expects {expected_cols} ({cols_hint}). Set '
            f'{HEAD_KEY}.loss_cls.num_classes to {HEAD_KEY}.num_classes, and '
            'build the classifier through a head that honours '
            'loss_cls.get_cls_channels (mmdet BBoxHead / ConvFCBBoxHead do).')
    n = cls_score.shape[0]
    if label.shape != (n, ):
        raise ValueError(f'{owner}: label must have shape ({n},), got '
                         f'{tuple(label.shape)}')
    z = cls_score.to(compute_dtype(cls_score)).contiguous()
    label = label.long()
    if weight is not None:
        if weight.numel() != n or weight.dim() > 2:
            raise ValueError(
                f'{owner}: weight must be per RoI, shape ({n},) or ({n}, 1); '
                f'got {tuple(weight.shape)}')
        weight = weight.reshape(n).to(z.dtype)
    return z, label, weight


def reduce_total(total: Tensor, n: int, reduction: str,
                 avg_factor: Optional[Union[float, Tensor]],
                 loss_weight: float) -> Tensor:
    """``loss_weight * total / D`` with D = avg_factor, else N (mean) or 1
    (sum)."""
    if reduction == 'mean':
        if isinstance(avg_factor, Tensor):  # no host sync for tensors
            return total * loss_weight / avg_factor.to(total).clamp(min=1e-12)
        denom = float(avg_factor) if avg_factor is not None else float(n)
        # empty batch: total is 0, keep it finite
        return total * (loss_weight / (denom if denom > 0 else 1.))
    if reduction == 'sum':
        return total * loss_weight
    raise ValueError(f'reduction must be none/mean/sum, got {reduction!r}')


def onehot_targets(z: Tensor, label: Tensor) -> Tensor:
    """[N, K] one-hot of ``label``; labels >= K give an all-zero row."""
    y = z.new_zeros(z.shape[0], z.shape[1] + 1)
    y[torch.arange(z.shape[0], device=z.device),
      label.clamp(max=z.shape[1])] = 1
    return y[:, :z.shape[1]]


def load_class_frequency(owner: str,
                         freq_type: str,
                         class_freq: Optional[Sequence[float]] = None,
                         ann_file: Optional[str] = None,
                         stats_file: Optional[str] = None,
                         images: str = 'annotated') -> np.ndarray:
    """Per-class frequencies (label order) from, by precedence,
    ``class_freq``, ``stats_file`` or ``ann_file``.

    ``freq_type``: ``'image_frequency'`` (image_count / #images) or
    ``'instance_count'`` (#boxes).  ``images``: the #images of an image
    frequency read from a file, ``'annotated'`` (images with annotations,
    as the originals' tables) or ``'all'``.  Missing files raise
    FileNotFoundError naming the file and the loss.
    """
    if freq_type not in ('image_frequency', 'instance_count'):
        raise ValueError(f"{owner}: freq_type must be 'image_frequency' or "
                         f"'instance_count', got {freq_type!r}")
    if class_freq is not None:
        freq = np.asarray(class_freq, dtype=np.float64).reshape(-1)
        if not np.isfinite(freq).all() or (freq < 0).any():
            raise ValueError(f'{owner}: class_freq must be finite and >= 0')
        return freq
    if not ann_file and not stats_file:
        raise ValueError(
            f'{owner} needs class frequencies: set loss_cls.ann_file (the '
            'training annotation json), loss_cls.stats_file (written by '
            'tools/misc/class_stats.py) or loss_cls.class_freq (a list)')
    from mmlt.datasets.class_stats import get_class_stats_for
    stats = get_class_stats_for(owner, 'loss_cls', ann_file, stats_file,
                                'pass loss_cls.class_freq')
    if freq_type == 'instance_count':
        return stats.instance_count.astype(np.float64)
    if images not in ('annotated', 'all'):
        raise ValueError(f"{owner}: freq_images must be 'annotated' or "
                         f"'all', got {images!r}")
    return stats.image_frequency_of(images).astype(np.float64)


def check_head_classes(owner: str, loss_classes: int,
                       head_classes: int) -> None:
    if head_classes != loss_classes:
        raise ValueError(
            f'{owner}: {HEAD_KEY}.num_classes={head_classes} but '
            f'{HEAD_KEY}.loss_cls.num_classes={loss_classes} (or the length '
            f'of its class statistics); set {HEAD_KEY}.loss_cls.num_classes='
            f'{head_classes} and give it statistics of the same classes')


def sigmoid_accuracy(cls_logits: Tensor, pred_bg: Tensor,
                     labels: Tensor) -> Dict[str, Tensor]:
    """Accuracies (%) of a sigmoid classifier without a softmax bg logit.

    ``acc``: predicted label = background where ``pred_bg`` else the argmax
    class, over all RoIs; ``acc_fg``: argmax class on the foreground RoIs.
    """
    num_classes = cls_logits.shape[1]
    pred = cls_logits.argmax(1)
    pred = torch.where(pred_bg, torch.full_like(pred, num_classes), pred)
    zero = cls_logits.new_tensor(0.)
    acc = (pred == labels).float().mean() * 100 if labels.numel() else zero
    fg = labels < num_classes
    acc_fg = accuracy(cls_logits[fg], labels[fg]) if fg.any() else zero
    return dict(acc=acc, acc_fg=acc_fg)


def to_index_groups(groups: Union[Dict[str, Sequence[int]], Sequence[str],
                                  np.ndarray],
                    num_classes: int) -> Dict[str, np.ndarray]:
    """Normalise r/c/f groups: a per-class letter array (``ClassStats.
    groups``) or a dict name -> label indices."""
    if isinstance(groups, dict):
        out = {
            k: np.asarray(v, dtype=np.int64).reshape(-1)
            for k, v in groups.items()
        }
    else:
        letters = np.asarray(groups).reshape(-1)
        if len(letters) != num_classes:
            raise ValueError(f'groups has {len(letters)} entries, expected '
                             f'one per class ({num_classes})')
        order = {g: i for i, g in enumerate('rcf')}
        names = sorted(set(letters.tolist()),
                       key=lambda g: (order.get(g, len(order)), g))
        out = {str(g): np.flatnonzero(letters == g) for g in names}
    for k, idx in out.items():
        if len(idx) and (idx.min() < 0 or idx.max() >= num_classes):
            raise ValueError(f'group {k!r} has label indices outside '
                             f'[0, {num_classes})')
    return out


def group_means(values: Dict[str, Tensor],
                groups: Union[Dict[str, Sequence[int]], Sequence[str],
                              np.ndarray],
                num_classes: int) -> Dict[str, float]:
    """Mean of each per-class vector over each class group:
    ``{f'{key}_{group}': mean}`` (groups as :func:`to_index_groups`; empty
    groups left out), what the losses' ``group_weight_stats`` log."""
    values = {k: v.detach().cpu() for k, v in values.items()}
    out = {}
    for name, idx in to_index_groups(groups, num_classes).items():
        if not len(idx):
            continue
        idx = torch.from_numpy(idx)
        for key, v in values.items():
            out[f'{key}_{name}'] = float(v[idx].mean())
    return out
