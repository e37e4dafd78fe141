"""Equilibrium Loss of LOCE (Feng et al., "Exploring Classification
Equilibrium in Long-Tailed Object Detection", ICCV 2021)."""
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmlt.models.layers.mean_score import MeanScoreTracker
from .utils import HEAD_KEY, compute_dtype

__all__ = ['EquilibriumLoss']

#: mmdet's CrossEntropyLoss default: rows with this label contribute 0
IGNORE_INDEX = -100


@MODELS.register_module()
class EquilibriumLoss(nn.Module):
    r"""Softmax CE over C+1 logits with score-guided margins (EBL).

    .. math::
        P_y = \frac{m_y e^{z_y}}{\sum_{j=0}^{C} m_j e^{z_j}}, \qquad
        L = \text{loss\_weight}\cdot\frac{1}{D}\sum_i r_i\,(-\log P_{y_i})

    i.e. CE on :math:`z_j + \log m_j`: competitor j gets the margin
    :math:`\log(m_j / m_y)`, so a weak class (low mean score
    :math:`m_y`) is pushed harder.  ``m`` [C+1] (background last) is the
    buffer ``tracker.mean_score`` of the owned
    :class:`~mmlt.models.layers.MeanScoreTracker` (checkpointed as
    ``roi_head.bbox_head.loss_cls.tracker.mean_score``).  The loss only
    reads ``m``; the RoI head updates it (``update_mean_score``) before
    calling the loss, as in the original.  With all ``m_j`` equal it is
    exactly softmax CE.

    ``r_i`` = per-RoI ``weight``, ``D`` = ``avg_factor`` else N, exactly as
    mmdet's ``CrossEntropyLoss`` (``weight_reduce_loss``); labels
    ``-100`` contribute 0.  ``log m`` uses ``max(m, tiny)`` (fp32 tiny),
    so a zero score gives a large finite margin, not ``-inf``.

    Inference: mmdet's ``BBoxHead`` applies its plain softmax to ``z`` (no
    ``custom_cls_channels`` / ``custom_activation``), as the original's
    ``get_bboxes``: the margins only shape training.

    Args:
        num_classes (int): C; must equal the head's ``num_classes``.
        alpha, bg_score, init_score (float): of the tracker (0.9, 0.01,
            0.01).
        use_sigmoid (bool): must be False (config compatibility).
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier.
    """

    MIN_SCORE = torch.finfo(torch.float32).tiny

    def __init__(self,
                 num_classes: int = 1203,
                 alpha: float = 0.9,
                 bg_score: float = 0.01,
                 init_score: float = 0.01,
                 use_sigmoid: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if use_sigmoid:
            raise ValueError(f'EquilibriumLoss is a softmax loss over C + 1 '
                             f'logits; {HEAD_KEY}.loss_cls.use_sigmoid=True '
                             'is not supported')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'EquilibriumLoss: {HEAD_KEY}.loss_cls.'
                             f'reduction must be none/mean/sum, got '
                             f'{reduction!r}')
        self.num_classes = int(num_classes)
        self.use_sigmoid = False
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self.tracker = MeanScoreTracker(
            self.num_classes,
            alpha=alpha,
            bg_score=bg_score,
            init_score=init_score)

    @property
    def mean_score(self) -> Tensor:
        """The tracker's ``m`` [C+1] (float64 buffer)."""
        return self.tracker.mean_score

    def update_mean_score(self, labels: Tensor, scores: Tensor) -> Tensor:
        """``self.tracker.update(labels, scores)`` (a collective under
        torch.distributed; see :class:`MeanScoreTracker`)."""
        return self.tracker.update(labels, scores)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """mmdet convention: cls_score [N, C+1], label [N] in [0, C]
        (C = background), weight [N] per RoI."""
        reduction = reduction_override or self.reduction
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError('EquilibriumLoss: reduction_override must be '
                             f'none/mean/sum, got {reduction!r}')
        k = self.num_classes + 1
        if cls_score.dim() != 2 or cls_score.shape[1] != k:
            raise ValueError(
                f'EquilibriumLoss: cls_score has shape '
                f'{tuple(cls_score.shape)}, expected [N, {k}] (C + 1); set '
                f'{HEAD_KEY}.loss_cls.num_classes to {HEAD_KEY}.num_classes')
        n = cls_score.shape[0]
        if label.shape != (n, ):
            raise ValueError(f'EquilibriumLoss: label must have shape '
                             f'({n},), got {tuple(label.shape)}')
        label = label.long()
        if label.numel():
            bad = (label != IGNORE_INDEX) & ((label < 0) | (label >= k))
            if bool(bad.any()):
                raise ValueError(
                    f'EquilibriumLoss: labels must lie in [0, {k - 1}] '
                    f'(C = background) or be {IGNORE_INDEX}; got '
                    f'{int(label[bad][0])}')
        z = cls_score.to(compute_dtype(cls_score))
        log_m = torch.log(self.mean_score.clamp(min=self.MIN_SCORE)).to(
            device=z.device, dtype=z.dtype)
        loss = F.cross_entropy(
            z + log_m, label, reduction='none', ignore_index=IGNORE_INDEX)
        if weight is not None:
            if weight.numel() != n:
                raise ValueError(f'EquilibriumLoss: weight must be per RoI '
                                 f'({n} values), got {tuple(weight.shape)}')
            weight = weight.reshape(n).to(loss.dtype)
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, '
                f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
