"""Equalization Loss v2 (Tan et al., "Equalization Loss v2: A New
Gradient Balance Approach for Long-tailed Object Detection", CVPR 2021)."""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmdet.registry import MODELS
from mmlt.utils.dist import all_reduce_sum
from .utils import (WeightedSigmoidBCE, check_head_classes, group_means,
                    onehot_targets, prepare_inputs, reduce_total,
                    sigmoid_accuracy)

__all__ = ['EqualizationLossV2']


@MODELS.register_module(name=['EqualizationLossV2', 'EQLv2'])
class EqualizationLossV2(nn.Module):
    r"""EQLv2: sigmoid BCE over C+1 channels re-weighted by accumulated
    gradient statistics.

    Channels: C classes + one objectness ("background") channel whose
    target is 1 for background RoIs (label C).  With ``g_j`` the ratio of
    accumulated positive to negative gradient magnitude of class j:

    .. math::
        q_j = \sigma(\gamma (g_j - \mu)), \quad
        \text{neg\_w}_j = q_j, \quad
        \text{pos\_w}_j = 1 + \alpha (1 - q_j), \\
        L = \text{loss\_weight}\cdot\frac{1}{D}\sum_{ij} r_i
            (y_{ij}\,\text{pos\_w}_j + (1-y_{ij})\,\text{neg\_w}_j)\,
            \mathrm{BCE}(z_{ij}, y_{ij})

    the objectness channel has weights 1.  ``r_i`` / ``D`` as in
    :class:`EqualizationLoss` (per-RoI ``weight``, ``avg_factor`` else N;
    the original ignores both; equal for mmdet's R-CNN).

    Statistics (``pos_grad``, ``neg_grad``, float64 buffers, summed from
    iteration 0, no decay): after computing the loss of a forward,
    ``pos_grad_j += sum_i r_i pos_w_j |p_ij - 1| y_ij`` and ``neg_grad_j +=
    sum_i r_i neg_w_j p_ij (1 - y_ij)``, i.e. gradient magnitudes of the
    re-weighted loss (without 1/D and loss_weight, as the original),
    objectness column excluded, summed over ranks (all-reduce) when
    torch.distributed is initialised; then ``g = pos_grad / (neg_grad +
    1e-10)`` (buffer ``pos_neg``).  ``pos_neg`` starts at 100, so the first
    iteration is plain BCE (neg_w = pos_w = 1 to fp precision).

    They are computed analytically from the same ``p = sigmoid(z)`` as the
    loss, once per forward in training mode (``self.training``), not in
    backward hooks: under gradient accumulation every micro-batch is counted
    (each later micro-batch already uses the updated weights, unlike one big
    batch); with AMP the logits are cast to fp32 first.  State lives in
    buffers, so checkpoints resume exactly.

    Args:
        num_classes (int): C (LVIS v1: 1203, v0.5: 1230, OpenImages: 500);
            must equal the head's ``num_classes``.
        gamma, mu, alpha (float): mapping function parameters (12, 0.8, 4).
        test_with_obj (bool): test score ``sigmoid(z_j) * (1 -
            sigmoid(z_obj))`` instead of ``sigmoid(z_j)``.
        use_sigmoid (bool): must be True (config compatibility).
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier of the loss.
    """

    #: initial g, so that iteration 1 has all weights 1 (original: 100)
    INIT_RATIO = 100.0
    EPS = 1e-10
    #: prefix of the keys logged by LossStateLoggerHook
    log_name = 'eqlv2'

    def __init__(self,
                 num_classes: int = 1203,
                 gamma: float = 12.0,
                 mu: float = 0.8,
                 alpha: float = 4.0,
                 test_with_obj: bool = True,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if not use_sigmoid:
            raise ValueError('EqualizationLossV2 is a sigmoid loss; '
                             'use_sigmoid=False is not supported')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError('EqualizationLossV2: reduction must be '
                             'none/mean/sum')
        self.num_classes = int(num_classes)
        self.gamma = float(gamma)
        self.mu = float(mu)
        self.alpha = float(alpha)
        self.test_with_obj = test_with_obj
        self.use_sigmoid = True
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        # float64: LVIS sums ~1e5 iterations x ~1e3 RoIs of small terms
        c = self.num_classes
        self.register_buffer('pos_grad', torch.zeros(c, dtype=torch.float64))
        self.register_buffer('neg_grad', torch.zeros(c, dtype=torch.float64))
        self.register_buffer(
            'pos_neg', torch.full((c, ), self.INIT_RATIO, dtype=torch.float64))
        print_log(
            f'EqualizationLossV2: num_classes={c}, gamma={gamma}, mu={mu}, '
            f'alpha={alpha}',
            logger='current')

        # mmdet BBoxHead hooks: C+1 channels, sigmoid at test time
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    # ----------------------------------------------------- head interface
    def get_cls_channels(self, num_classes: int) -> int:
        """C+1: the classes and the objectness channel."""
        check_head_classes('EqualizationLossV2', self.num_classes, num_classes)
        return num_classes + 1

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """[N, C+1]: ``sigmoid(z_j) * (1 - sigmoid(z_obj))`` (or
        ``sigmoid(z_j)`` without ``test_with_obj``) and ``sigmoid(z_obj)``
        last, which NMS drops as background."""
        if cls_score.shape[-1] != self.num_classes + 1:
            raise ValueError(
                f'EqualizationLossV2.get_activation: expected '
                f'{self.num_classes + 1} columns, got {cls_score.shape[-1]}')
        scores = torch.sigmoid(cls_score)
        obj = scores[:, self.num_classes:]
        cls = scores[:, :self.num_classes]
        if self.test_with_obj:
            cls = cls * (1 - obj)
        return torch.cat([cls, obj], 1)

    def get_accuracy(self, cls_score: Tensor,
                     labels: Tensor) -> Dict[str, Tensor]:
        """``acc`` (background where p_obj >= 0.5, else argmax class),
        ``acc_fg`` (argmax class on fg RoIs), ``acc_obj`` (objectness)."""
        z = cls_score.detach()
        c = self.num_classes
        pred_bg = z[:, c] >= 0
        out = sigmoid_accuracy(z[:, :c], pred_bg, labels)
        out['acc_obj'] = (pred_bg == (labels >= c)).float().mean() * 100 \
            if labels.numel() else z.new_tensor(0.)
        return out

    # ------------------------------------------------------------- weights
    def get_weight(self) -> Tuple[Tensor, Tensor]:
        """(pos_w, neg_w), float64 [C+1], objectness weights 1."""
        neg_w = torch.sigmoid(self.gamma * (self.pos_neg - self.mu))
        pos_w = 1 + self.alpha * (1 - neg_w)
        one = neg_w.new_ones(1)
        return torch.cat([pos_w, one]), torch.cat([neg_w, one])

    def group_weight_stats(
        self, groups: Union[Dict[str, Sequence[int]], Sequence[str],
                            np.ndarray]
    ) -> Dict[str, float]:
        """Mean ``pos_w``, ``neg_w`` and ``g`` per class group.

        Args:
            groups: per-class letters (e.g. ``ClassStats.groups``, 'r' /
                'c' / 'f') or a dict name -> label indices.

        Returns:
            dict: ``{'pos_w_r': .., 'neg_w_r': .., 'grad_ratio_r': .., ...}``;
            empty groups are left out.
        """
        pos_w, neg_w = self.get_weight()
        return group_means(
            dict(pos_w=pos_w[:-1], neg_w=neg_w[:-1], grad_ratio=self.pos_neg),
            groups, self.num_classes)

    # ---------------------------------------------------------------- loss
    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Args follow mmdet: cls_score [N, C+1], label [N] in [0, C] (C =
        background), weight [N] per RoI."""
        reduction = reduction_override or self.reduction
        z, label, r = prepare_inputs('EqualizationLossV2', cls_score, label,
                                     weight, self.num_classes + 1,
                                     'C classes + 1 objectness channel')
        pos_w64, neg_w64 = self.get_weight()
        pos_w, neg_w = pos_w64.to(z.dtype), neg_w64.to(z.dtype)
        collect = self.training
        if reduction == 'none':
            y = onehot_targets(z, label)
            w = pos_w * y + neg_w * (1 - y)
            if r is not None:
                w = w * r[:, None]
            loss = self.loss_weight * w * F.binary_cross_entropy_with_logits(
                z, y, reduction='none')
            neg_sum = None
            if collect:
                with torch.no_grad():
                    rr = 1 if r is None else r[:, None]
                    neg_sum = (torch.sigmoid(z) * (1 - y) * rr).sum(0)
        else:
            total, neg_sum = WeightedSigmoidBCE.apply(z, label, r, neg_w,
                                                      pos_w, None, None,
                                                      collect)
            loss = reduce_total(total, z.shape[0], reduction, avg_factor,
                                self.loss_weight)
        if collect:
            self._collect(z.detach(), label, r, neg_sum, pos_w64, neg_w64)
        return loss

    @torch.no_grad()
    def _collect(self, z: Tensor, label: Tensor, r: Optional[Tensor],
                 neg_sum: Tensor, pos_w: Tensor, neg_w: Tensor) -> None:
        """Accumulate this forward's gradient magnitudes (see class doc).

        ``neg_sum[j] = sum_{i: l_i != j} r_i p_ij`` comes from the loss pass.
        """
        c = self.num_classes
        rows = torch.nonzero(label < c).squeeze(1)
        cols = label[rows]
        pos_term = 1 - torch.sigmoid(z[rows, cols])
        if r is not None:
            pos_term = pos_term * r[rows]
        pos = torch.zeros(c, dtype=torch.float64, device=z.device)
        pos.index_add_(0, cols, pos_term.double())
        both = torch.stack([pos * pos_w[:c], neg_sum[:c].double() * neg_w[:c]])
        all_reduce_sum(both)
        self.pos_grad += both[0]
        self.neg_grad += both[1]
        torch.div(self.pos_grad, self.neg_grad + self.EPS, out=self.pos_neg)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, gamma={self.gamma}, '
                f'mu={self.mu}, alpha={self.alpha}, '
                f'test_with_obj={self.test_with_obj}, '
                f'loss_weight={self.loss_weight}')
