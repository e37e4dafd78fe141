"""Softmax focal loss for C + 1-way R-CNN classifiers (Lin et al., "Focal
Loss for Dense Object Detection", ICCV 2017; the focal-loss baseline of BAGS,
Li et al. CVPR 2020). mmdet 3.3's ``FocalLoss`` is sigmoid-only (it asserts
``use_sigmoid=True``), hence this loss."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from .utils import HEAD_KEY

__all__ = ['SoftmaxFocalLoss', 'softmax_focal_loss']


def softmax_focal_loss(cls_score: Tensor,
                       label: Tensor,
                       gamma: float = 2.0,
                       alpha: Optional[Tensor] = None) -> Tensor:
    r"""Element-wise ``-alpha_y (1 - p_y)^gamma log p_y``, [N].

    ``p = softmax(z)``; ``alpha`` is a [K] per-class factor or None.
    ``1 - p_y`` is computed as ``-expm1(log p_y)`` (no cancellation for
    confident RoIs) and floored at 1e-12 so that gamma < 1 keeps a finite
    gradient at p_y = 1.
    """
    logp = F.log_softmax(cls_score.float(), dim=1)
    logp_y = logp.gather(1, label.long()[:, None]).squeeze(1)
    one_minus_p = (-torch.expm1(logp_y)).clamp(min=1e-12)
    loss = -one_minus_p.pow(gamma) * logp_y
    if alpha is not None:
        loss = loss * alpha.to(loss)[label.long()]
    return loss


@MODELS.register_module()
class SoftmaxFocalLoss(nn.Module):
    r"""Focal loss over the C + 1 softmax of an R-CNN classifier.

    .. math::
        \mathrm{FL}_i = -\alpha_{y_i}\,(1 - p_{i,y_i})^{\gamma}\,
        \log p_{i,y_i},\qquad
        L = \text{loss\_weight}\cdot\frac{1}{D}\sum_i r_i\,\mathrm{FL}_i

    gamma = 0 and no alpha is the plain softmax CE. ``r_i`` = per-RoI
    weight (``label_weights``), ``D = avg_factor`` (#RoIs from mmdet's
    BBoxHead; R-CNN samples RoIs, so there is no dense-detector
    "normalise by #positives" here), else N.

    ``alpha`` (mmlt's definition for the softmax case):

    * None: alpha = 1 for every class (default; the BAGS baseline);
    * a float a: ``a`` for foreground RoIs, ``1 - a`` for background
      RoIs (the softmax analogue of the sigmoid alpha-balancing);
    * a list of C + 1 floats: per-class factors, background last.

    Inference is mmdet's plain softmax (no custom activation).

    Args:
        gamma (float): focusing parameter (>= 0).
        alpha (float | list[float], optional): see above.
        num_classes (int, optional): C; checked against the logits.
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier.
    """

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: Optional[Union[float, Sequence[float]]] = None,
                 num_classes: Optional[int] = None,
                 use_sigmoid: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if use_sigmoid:
            raise ValueError('SoftmaxFocalLoss is the softmax focal loss; '
                             "use mmdet's FocalLoss for sigmoid classifiers")
        if gamma < 0:
            raise ValueError(f'SoftmaxFocalLoss: gamma must be >= 0, got '
                             f'{gamma}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError('SoftmaxFocalLoss: reduction must be '
                             'none/mean/sum')
        if alpha is not None and not isinstance(alpha, (int, float)):
            alpha = [float(a) for a in alpha]
            if num_classes is not None and len(alpha) != num_classes + 1:
                raise ValueError(
                    f'SoftmaxFocalLoss: alpha has {len(alpha)} entries, '
                    f'expected num_classes + 1 = {num_classes + 1} '
                    '(background last)')
        elif alpha is not None and not 0 <= alpha <= 1:
            raise ValueError('SoftmaxFocalLoss: a scalar alpha is the '
                             f'foreground factor in [0, 1], got {alpha}')
        self.gamma = float(gamma)
        self.alpha = alpha
        self.num_classes = num_classes
        self.use_sigmoid = False
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    def _alpha_vector(self, k: int, ref: Tensor) -> Optional[Tensor]:
        if self.alpha is None:
            return None
        if isinstance(self.alpha, (int, float)):
            a = ref.new_full((k, ), float(self.alpha), dtype=torch.float32)
            a[-1] = 1 - float(self.alpha)
            return a
        if len(self.alpha) != k:
            raise ValueError(
                f'SoftmaxFocalLoss: alpha has {len(self.alpha)} entries but '
                f'the classifier has {k} outputs ({HEAD_KEY}.num_classes + '
                '1)')
        return ref.new_tensor(self.alpha, dtype=torch.float32)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """mmdet convention: cls_score [N, C + 1], label [N] in [0, C]."""
        reduction = reduction_override or self.reduction
        if cls_score.dim() != 2:
            raise ValueError('SoftmaxFocalLoss expects cls_score [N, C + 1], '
                             f'got {tuple(cls_score.shape)}')
        k = cls_score.shape[1]
        if self.num_classes is not None and k != self.num_classes + 1:
            raise ValueError(
                f'SoftmaxFocalLoss: cls_score has {k} columns, expected '
                f'num_classes + 1 = {self.num_classes + 1}; set {HEAD_KEY}.'
                'loss_cls.num_classes to the head\'s num_classes')
        loss = softmax_focal_loss(cls_score, label, self.gamma,
                                  self._alpha_vector(k, cls_score))
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)

    def extra_repr(self) -> str:
        return (f'gamma={self.gamma}, alpha={self.alpha}, '
                f'loss_weight={self.loss_weight}')
