"""Class-weighted softmax cross-entropy: the re-weighting baselines of BAGS
(Li et al., CVPR 2020, ``cls_weight.pt`` / ``cls_weight_bours.pt``) with
inverse-frequency or effective-number weights (Cui et al., "Class-Balanced
Loss Based on Effective Number of Samples", CVPR 2019)."""
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from .utils import HEAD_KEY, load_class_frequency

__all__ = ['ClassWeightedCrossEntropyLoss', 'class_weights_from_counts']

WEIGHTINGS = ('inverse', 'effective')


def class_weights_from_counts(counts: Sequence[float],
                              weighting: str = 'inverse',
                              beta: float = 0.999,
                              clip: Tuple[float, float] = (0.1, 5.0),
                              bg_weight: float = 1.0) -> np.ndarray:
    r"""Per-class CE weights, float64 [C + 1] (background last).

    .. math::
        u_c = \begin{cases} 1 / n_c & \text{inverse} \\
              (1 - \beta) / (1 - \beta^{n_c}) & \text{effective}
              \end{cases}
        \qquad w_c = \mathrm{clip}\big(u_c / \mathrm{mean}_{n_k > 0}
        u_k,\ lo,\ hi\big), \qquad w_C = \text{bg\_weight}

    ``n_c`` = training instance count. This is BAGS's ``get_cate_weight``
    (inverse) and ``get_cate_weight_bours`` (effective number, beta =
    0.999). Classes with ``n_c = 0`` (``u_c = inf``) get the clip maximum
    ``hi`` and are left out of the mean; a warning names how many.

    Raises:
        ValueError: negative/non-finite counts, all counts zero, bad
            weighting/beta/clip.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got "
                         f'{weighting!r}')
    n = np.asarray(counts, dtype=np.float64).reshape(-1)
    if not len(n):
        raise ValueError('class counts are empty')
    if not np.isfinite(n).all() or (n < 0).any():
        raise ValueError('class counts must be finite and >= 0')
    lo, hi = (float(c) for c in clip)
    if not 0 < lo <= hi:
        raise ValueError(f'clip must be (lo, hi) with 0 < lo <= hi, got '
                         f'{tuple(clip)}')
    seen = n > 0
    if not seen.any():
        raise ValueError(
            'every class has 0 training instances; the class statistics do '
            'not describe a training set')
    u = np.full_like(n, np.inf)
    if weighting == 'inverse':
        u[seen] = 1.0 / n[seen]
    else:
        if not 0 < beta < 1:
            raise ValueError(f'beta must lie in (0, 1), got {beta}')
        # 1 - beta^n via expm1 keeps precision for beta close to 1
        u[seen] = (1.0 - beta) / -np.expm1(n[seen] * np.log(beta))
    w = np.clip(u / u[seen].mean(), lo, hi)
    if (~seen).any():
        warnings.warn(
            f'{int((~seen).sum())} of {len(n)} classes have no training '
            f'instance; they get the maximum weight {hi} (clip) and are left '
            'out of the mean normalisation')
    return np.append(w, float(bg_weight))


@MODELS.register_module()
class ClassWeightedCrossEntropyLoss(nn.Module):
    r"""Softmax CE over C + 1 logits with a fixed weight per target class.

    .. math::
        L = \text{loss\_weight}\cdot\frac{1}{D}\sum_i r_i\,w_{y_i}\,
            \big(-\log \mathrm{softmax}(z_i)_{y_i}\big)

    ``w`` from :func:`class_weights_from_counts` (``weighting='inverse'``
    or ``'effective'``; background weight 1), ``r_i`` the per-RoI weight
    given by the head (``label_weights``), ``D = avg_factor`` (mmdet's
    BBoxHead passes #RoIs with positive weight), else N.

    Normalisation: by ``avg_factor``, **not** by ``sum_i w_{y_i}``
    (PyTorch's ``F.cross_entropy(weight=..., reduction='mean')``). That is
    what mmdet's ``CrossEntropyLoss(class_weight=...)`` and the original
    BAGS re-weighting head (mmdet v1 CE with ``avg_factor`` = #RoIs) do,
    and it keeps the re-weighting visible in the loss magnitude: with
    division by ``sum w`` a batch of only frequent-class RoIs and one of
    only rare ones would produce the same loss scale.

    Counts (training **instance** counts, label order) come from
    ``class_counts`` (list), else ``stats_file``, else ``ann_file`` (via
    :func:`mmlt.datasets.get_class_stats`). Inference is the plain softmax
    of mmdet's BBoxHead (no custom activation).

    Args:
        weighting (str): 'inverse' or 'effective'.
        beta (float): effective-number beta (only for 'effective').
        clip (tuple[float]): (lo, hi) range of the normalised weights.
        num_classes (int, optional): C; must equal the number of counts.
        class_counts (list[int], optional): per-class instance counts.
        ann_file / stats_file (str, optional): training annotations / a
            class-stats json (tools/misc/class_stats.py).
        bg_weight (float): weight of background RoIs.
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier.
    """

    def __init__(self,
                 weighting: str = 'inverse',
                 beta: float = 0.999,
                 clip: Sequence[float] = (0.1, 5.0),
                 num_classes: Optional[int] = None,
                 class_counts: Optional[Sequence[float]] = None,
                 ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 bg_weight: float = 1.0,
                 use_sigmoid: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        owner = 'ClassWeightedCrossEntropyLoss'
        if use_sigmoid:
            raise ValueError(f'{owner} is a softmax loss over C + 1 logits; '
                             'use_sigmoid=True is not supported')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'{owner}: reduction must be none/mean/sum')
        counts = load_class_frequency(owner, 'instance_count', class_counts,
                                      ann_file, stats_file)
        src = 'class_counts' if class_counts is not None else \
            f"{'stats_file' if stats_file else 'ann_file'} " \
            f'{stats_file or ann_file}'
        if num_classes is not None and len(counts) != num_classes:
            raise ValueError(
                f'{owner}: {src} has {len(counts)} classes but '
                f'{HEAD_KEY}.loss_cls.num_classes={num_classes}; use the '
                'statistics of this model\'s training set')
        try:
            w = class_weights_from_counts(counts, weighting, beta,
                                          tuple(clip), bg_weight)
        except ValueError as e:
            raise ValueError(f'{owner} ({src}): {e}') from e
        self.weighting = weighting
        self.beta = float(beta)
        self.clip = tuple(float(c) for c in clip)
        self.num_classes = len(counts)
        self.use_sigmoid = False
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        # not persistent: checkpoints stay usable with other statistics
        self.register_buffer(
            'class_weight', torch.from_numpy(w).float(), persistent=False)
        fg = w[:-1]
        print_log(
            f'{owner} ({weighting}): weights of {self.num_classes} classes '
            f'in [{fg.min():.3g}, {fg.max():.3g}], mean {fg.mean():.3g}, '
            f'{int((fg >= self.clip[1]).sum())} at the clip maximum',
            logger='current')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """mmdet convention: cls_score [N, C + 1], label [N] in [0, C]
        (C = background), weight [N] per RoI."""
        reduction = reduction_override or self.reduction
        k = self.num_classes + 1
        if cls_score.dim() != 2 or cls_score.shape[1] != k:
            raise ValueError(
                f'ClassWeightedCrossEntropyLoss: cls_score has shape '
                f'{tuple(cls_score.shape)} but the class statistics have '
                f'{self.num_classes} classes (expected [N, {k}]); set '
                f'{HEAD_KEY}.num_classes={self.num_classes} or use the '
                'statistics of this model\'s training set')
        loss = F.cross_entropy(
            cls_score.float(),
            label.long(),
            weight=self.class_weight.to(cls_score.device),
            reduction='none')
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)

    def extra_repr(self) -> str:
        return (f'weighting={self.weighting!r}, beta={self.beta}, '
                f'clip={self.clip}, num_classes={self.num_classes}, '
                f'loss_weight={self.loss_weight}')
