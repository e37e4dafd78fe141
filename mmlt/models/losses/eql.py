"""Equalization Loss (Tan et al., "Equalization Loss for Long-Tailed Object
Recognition", CVPR 2020)."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmdet.registry import MODELS
from .utils import (WeightedSigmoidBCE, check_head_classes,
                    load_class_frequency, onehot_targets, prepare_inputs,
                    reduce_total, sigmoid_accuracy)

__all__ = ['EqualizationLoss']

_VERSIONS = {
    'v0.5': 'v0.5',
    'v0_5': 'v0.5',
    'v1': 'v1',
    'openimage': 'openimage'
}
#: default lambda per version: LVIS v0.5 / v1 image frequency, OpenImages
#: instance count (the 250th smallest of 500 classes).
DEFAULT_LAMBDA = {'v0.5': 0.00177, 'v1': 0.0011, 'openimage': 1652.0}


@MODELS.register_module(name=['EqualizationLoss', 'EQL'])
class EqualizationLoss(nn.Module):
    r"""Equalization loss (EQL): sigmoid BCE over C classes, no bg logit.

    .. math::
        w_{ij} = 1 - E(r_i)\,T_\lambda(f_j)\,(1 - y_{ij}), \qquad
        L = \text{loss\_weight}\cdot\frac{1}{D}\sum_{ij} r_i\,w_{ij}\,
            \mathrm{BCE}(z_{ij}, y_{ij})

    ``E(r_i) = 1`` for foreground RoIs (label < C), ``T_lambda(f_j) =
    1[f_j < lambda]``: foreground RoIs send no negative gradient to tail
    classes, background RoIs (all-zero target) still push every class down.

    Normalisation (the original divides by N and ignores ``label_weights``
    and ``avg_factor``): ``r_i`` is the per-RoI ``weight`` (1 when None) and
    ``D = avg_factor`` if given, else N.  mmdet's ``BBoxHead`` passes
    all-ones label weights and ``avg_factor = #(label_weights > 0) = N``, so
    the standard R-CNN value equals the original's; a sampler that zeroes
    RoI weights is now honoured.  ``reduction='sum'`` skips D, ``'none'``
    returns the weighted element-wise loss [N, C].

    Class frequencies ``f`` come from ``class_freq`` (list), else
    ``stats_file``, else ``ann_file`` (LVIS json, via
    :func:`mmlt.datasets.get_class_stats`), read at build time.

    Args:
        num_classes (int, optional): C; defaults to the length of the
            frequency table, must equal it and the head's ``num_classes``.
        version (str): 'v1' (lambda 0.0011), 'v0.5' (0.00177) or
            'openimage' (instance counts, lambda 1652).
        lambda_ (float, optional): explicit threshold, overrides version.
        freq_type (str, optional): 'image_frequency' (image_count /
            #images, LVIS) or 'instance_count' (#boxes, OpenImages style);
            default from ``version``.
        freq_images (str): denominator of an image frequency computed from
            ``ann_file`` / ``stats_file``: ``'annotated'`` (default) = the
            training images with annotations, as the original's table
            (LVIS v1: 99,388 images; lambda 0.0011 -> 815 tail classes), or
            ``'all'`` = every image of the file (100,170 -> 817).
        class_freq (list[float], optional): frequencies in label order, of
            ``freq_type``.
        ann_file / stats_file (str, optional): training annotations / a
            class-stats json.
        use_sigmoid (bool): must be True (config compatibility).
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier of the loss.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 version: str = 'v1',
                 lambda_: Optional[float] = None,
                 freq_type: Optional[str] = None,
                 freq_images: str = 'annotated',
                 class_freq: Optional[Sequence[float]] = None,
                 ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        owner = 'EqualizationLoss'
        if version not in _VERSIONS:
            raise ValueError(f'{owner}: version must be one of '
                             f'{sorted(_VERSIONS)}, got {version!r}')
        if not use_sigmoid:
            raise ValueError(f'{owner} is a sigmoid loss; use_sigmoid=False '
                             'is not supported')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'{owner}: reduction must be none/mean/sum')
        self.version = _VERSIONS[version]
        self.lambda_ = float(DEFAULT_LAMBDA[self.version] if lambda_ is
                             None else lambda_)
        if freq_type is None:
            freq_type = 'instance_count' if self.version == 'openimage' \
                else 'image_frequency'
        self.freq_type = freq_type
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self.use_sigmoid = True

        freq = load_class_frequency(owner, freq_type, class_freq, ann_file,
                                    stats_file, freq_images)
        src = 'class_freq' if class_freq is not None else \
            f"{'stats_file' if stats_file else 'ann_file'} " \
            f'{stats_file or ann_file}'
        if num_classes is None:
            num_classes = len(freq)
        if len(freq) != num_classes:
            raise ValueError(
                f'{owner}: {src} has {len(freq)} classes but '
                f'model.roi_head.bbox_head.loss_cls.num_classes={num_classes}'
                '; use statistics of the training set of this model')
        self.num_classes = int(num_classes)
        # static per-class mask T_lambda; not persistent so that checkpoints
        # stay loadable with another lambda / statistics file
        self.register_buffer('tail_mask',
                             torch.from_numpy(freq < self.lambda_),
                             persistent=False)
        self.num_tail = int((freq < self.lambda_).sum())
        print_log(
            f'{owner} ({self.version}, {freq_type} < {self.lambda_:g}): '
            f'{self.num_tail} of {self.num_classes} classes are tail '
            'classes',
            logger='current')

        # mmdet BBoxHead hooks: C output channels, sigmoid at test time
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    # ----------------------------------------------------- head interface
    def get_cls_channels(self, num_classes: int) -> int:
        """C channels: EQL has no background logit."""
        check_head_classes('EqualizationLoss', self.num_classes, num_classes)
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """``[sigmoid(z), 0]``: [N, C+1], the zero bg column is dropped by
        NMS."""
        scores = torch.sigmoid(cls_score)
        return torch.cat([scores, scores.new_zeros(scores.shape[0], 1)], 1)

    def get_accuracy(self, cls_score: Tensor,
                     labels: Tensor) -> Dict[str, Tensor]:
        """``acc`` (background = no class with p >= 0.5) and ``acc_fg``."""
        z = cls_score.detach()
        return sigmoid_accuracy(z, z.max(1)[0] < 0, labels)

    # ---------------------------------------------------------------- loss
    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Args follow mmdet: cls_score [N, C], label [N] in [0, C] (C =
        background), weight [N] per RoI."""
        reduction = reduction_override or self.reduction
        z, label, r = prepare_inputs('EqualizationLoss', cls_score, label,
                                     weight, self.num_classes,
                                     'C classes, no background logit')
        fg = label < self.num_classes
        if reduction == 'none':
            y = onehot_targets(z, label)
            w = 1 - fg[:, None].to(z.dtype) * \
                self.tail_mask[None, :].to(z.dtype) * (1 - y)
            if r is not None:
                w = w * r[:, None]
            loss = F.binary_cross_entropy_with_logits(z, y, reduction='none')
            return self.loss_weight * w * loss
        total, _ = WeightedSigmoidBCE.apply(z, label, r, None, None, fg,
                                            self.tail_mask, False)
        return reduce_total(total, z.shape[0], reduction, avg_factor,
                            self.loss_weight)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, version={self.version!r}, '
                f'lambda_={self.lambda_:g}, freq_type={self.freq_type!r}, '
                f'num_tail={self.num_tail}, loss_weight={self.loss_weight}')
