"""Balanced Group Softmax loss (BAGS; Li et al., "Overcoming Classifier
Imbalance for Long-tail Object Detection with Balanced Group Softmax", CVPR
2020)."""
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from mmdet.models.losses import accuracy
from mmdet.registry import MODELS, TASK_UTILS
from mmlt.models.layers.label_mapping import GroupSoftmaxLabelMapping
from .utils import HEAD_KEY, compute_dtype

__all__ = ['GroupSoftmaxLoss']


@MODELS.register_module()
class GroupSoftmaxLoss(nn.Module):
    r"""Softmax cross-entropy inside each class group, groups by training
    instance count (:class:`~mmlt.models.layers.GroupSoftmaxLabelMapping`,
    logit layout documented there).

    For RoI i with label :math:`l_i` (mmdet: C = background) and group g
    with logit slice :math:`z^{(g)}_i` and in-group label :math:`t_{ig}`
    (0 = "others"):

    .. math::
        \mathrm{CE}_{ig} = -\log \mathrm{softmax}(z^{(g)}_i)_{t_{ig}}, \qquad
        L_g = \text{loss\_weight}\,
              \frac{\sum_i w_{ig}\,\mathrm{CE}_{ig}}{\max(\sum_i w_{ig}, 1)}

    Weights: group 0 (fg vs bg) takes every RoI, :math:`w_{i0} = r_i`
    (the per-RoI ``weight``, 1 when None).  Foreground group g takes its
    members (:math:`t_{ig} > 0`) and ``int(n_g * others_sample_ratio)``
    "others" drawn uniformly without replacement (all of them if fewer),
    :math:`w_{ig} = r_i` for those and 0 otherwise; a group without a member
    in the batch gets weight 0 (loss 0).  Only RoIs with :math:`r_i > 0`
    count as members or candidates, so mmdet's default all-ones label
    weights give the original's numbers; ``avg_factor`` is ignored because
    every group has its own normaliser (as in the original).

    Sampling draws from torch's global generator on the logits' device, so
    the runner's seed (and mmlt's ``RNGStateHook`` on ``--resume``) makes it
    reproducible; the original used unseeded ``np.random``.

    Inference (``get_activation``, the original's ``_merge_score``):
    :math:`s_c = p^{(0)}_{fg} \cdot p^{(g(c))}_c`, :math:`s_{bg} =
    p^{(0)}_{bg}`, C+1 columns with background last for mmdet's NMS.

    Args:
        label_mapping (dict | GroupSoftmaxLabelMapping): the groups, e.g.
            ``dict(type='GroupSoftmaxLabelMapping', ann_file=...)``.
        num_classes (int, optional): C; must equal the mapping's and the
            head's ``num_classes``.
        others_sample_ratio (float, optional): beta (8.0); ``None`` keeps
            every RoI in every group (no sampling, no switching off).
        split_group_losses (bool): return ``{'loss_cls_group{g}': L_g}``
            (one logged term per group, like the original) instead of
            ``sum_g L_g`` as a single tensor.
        reduction (str): 'mean' (per-group normalisation above), 'sum'
            (no normalisation) or 'none' ([N, G] weighted per-RoI terms).
        loss_weight (float): multiplier of every group's loss.
        use_sigmoid (bool): must be False (config compatibility).
    """

    def __init__(self,
                 label_mapping: Union[dict, GroupSoftmaxLabelMapping],
                 num_classes: Optional[int] = None,
                 others_sample_ratio: Optional[float] = 8.0,
                 split_group_losses: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 use_sigmoid: bool = False) -> None:
        super().__init__()
        if use_sigmoid:
            raise ValueError('GroupSoftmaxLoss is a softmax loss; '
                             'use_sigmoid=True is not supported')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'GroupSoftmaxLoss: reduction must be '
                             f'none/mean/sum, got {reduction!r}')
        if others_sample_ratio is not None and others_sample_ratio < 0:
            raise ValueError(f'{HEAD_KEY}.loss_cls.others_sample_ratio must '
                             f'be >= 0 or None, got {others_sample_ratio}')
        if isinstance(label_mapping, dict):
            label_mapping = TASK_UTILS.build(label_mapping)
        if not isinstance(label_mapping, GroupSoftmaxLabelMapping):
            raise TypeError(
                f'{HEAD_KEY}.loss_cls.label_mapping must be a dict config of '
                f'GroupSoftmaxLabelMapping, got {type(label_mapping)}')
        if num_classes is not None and \
                int(num_classes) != label_mapping.num_classes:
            raise ValueError(
                f'GroupSoftmaxLoss: {HEAD_KEY}.loss_cls.num_classes='
                f'{num_classes} but its label_mapping has '
                f'{label_mapping.num_classes} classes ({label_mapping.source})'
                '; use statistics of this model\'s training set')
        self.label_mapping = label_mapping
        self.num_classes = label_mapping.num_classes
        self.others_sample_ratio = None if others_sample_ratio is None \
            else float(others_sample_ratio)
        self.split_group_losses = split_group_losses
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self.use_sigmoid = False
        print_log(
            f'GroupSoftmaxLoss: {label_mapping.num_groups} groups, '
            f'others_sample_ratio={self.others_sample_ratio}',
            logger='current')

        # mmdet BBoxHead hooks: C+1+G logits, merged C+1 scores at test time
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    # ----------------------------------------------------- head interface
    def get_cls_channels(self, num_classes: int) -> int:
        """C + 1 + G: the group slices (each with its "others" logit)."""
        if num_classes != self.num_classes:
            raise ValueError(
                f'GroupSoftmaxLoss: {HEAD_KEY}.num_classes={num_classes} but '
                f'{HEAD_KEY}.loss_cls.label_mapping describes '
                f'{self.num_classes} classes ({self.label_mapping.source}); '
                'give the mapping the statistics (or files) of this '
                "model's training set")
        return self.label_mapping.num_channels

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """[N, C+1] merged scores (see class doc), background last.

        Cascade heads average the raw logits of all stages before this (mmdet
        ``CascadeRoIHead._refine_roi``); every stage has the same layout, so
        the average is again a valid [N, C+1+G] logit tensor.
        """
        z = cls_score.to(compute_dtype(cls_score))
        return self.label_mapping.merge_scores(z)

    def get_accuracy(self, cls_score: Tensor,
                     labels: Tensor) -> Dict[str, Tensor]:
        """``acc`` (argmax of the merged C+1 scores) and ``acc_fg`` (argmax
        over the C class scores on foreground RoIs), in %."""
        with torch.no_grad():
            scores = self.get_activation(cls_score.detach())
            zero = scores.new_tensor(0.)
            acc = accuracy(scores, labels) if labels.numel() else zero
            fg = labels < self.num_classes
            acc_fg = accuracy(scores[fg, :self.num_classes], labels[fg]) \
                if fg.any() else zero
        return dict(acc=acc, acc_fg=acc_fg)

    # ------------------------------------------------------------ weights
    @torch.no_grad()
    def group_weights(self, label: Tensor,
                      weight: Optional[Tensor]) -> Tensor:
        """[N, G] weights ``w_ig`` (class doc), drawing the "others"."""
        _, member = self.label_mapping.targets(label)
        n, g = member.shape
        dtype = weight.dtype if weight is not None else torch.float32
        if weight is None:
            valid = torch.ones(n, dtype=torch.bool, device=label.device)
        else:
            valid = weight > 0
        if self.others_sample_ratio is None:
            keep = valid[:, None].expand(n, g)
        else:
            pos = member[:, 1:] & valid[:, None]  # [N, G-1]
            cand = ~member[:, 1:] & valid[:, None]
            n_pos = pos.sum(0)
            # int(n_pos * beta) as in the original (truncation)
            k = torch.floor(n_pos.double() * self.others_sample_ratio).long()
            # uniform without replacement: the k smallest of i.i.d. keys
            keys = torch.rand(g - 1, n, device=label.device)
            keys.masked_fill_(~cand.t(), 2.)
            order = keys.argsort(dim=1)
            rank = torch.empty_like(order)
            rank.scatter_(
                1, order,
                torch.arange(n, device=label.device).expand(g - 1, n))
            picked = (rank < k[:, None]).t() & cand
            keep = torch.cat([valid[:, None], pos | picked], 1)
        w = keep.to(dtype)
        if weight is not None:
            w = w * weight[:, None]
        return w

    # ---------------------------------------------------------------- loss
    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Union[Tensor, Dict[str, Tensor]]:
        """Args follow mmdet: cls_score [N, C+1+G], label [N] in [0, C]
        (C = background), weight [N] per RoI; ``avg_factor`` is ignored
        (per-group normalisation).

        Returns:
            dict ``loss_cls_group{g}`` (``split_group_losses``), else the
            summed tensor; [N, G] for ``reduction='none'``.
        """
        reduction = reduction_override or self.reduction
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'reduction must be none/mean/sum, got '
                             f'{reduction!r}')
        mapping = self.label_mapping
        if cls_score.dim() != 2 or \
                cls_score.shape[1] != mapping.num_channels:
            raise ValueError(
                f'GroupSoftmaxLoss expects cls_score of shape [N, '
                f'{mapping.num_channels}] (C + 1 + G), got '
                f'{tuple(cls_score.shape)}; build fc_cls through a head that '
                'honours loss_cls.get_cls_channels (mmdet BBoxHead does)')
        n = cls_score.shape[0]
        if label.shape != (n, ):
            raise ValueError(f'GroupSoftmaxLoss: label must have shape '
                             f'({n},), got {tuple(label.shape)}')
        label = label.long()
        if n and (label.min() < 0 or label.max() > self.num_classes):
            raise ValueError(f'GroupSoftmaxLoss: labels must lie in [0, '
                             f'{self.num_classes}] (C = background)')
        z = cls_score.to(compute_dtype(cls_score))
        if weight is not None:
            if weight.numel() != n:
                raise ValueError(
                    f'GroupSoftmaxLoss: weight must be per RoI, shape '
                    f'({n},), got {tuple(weight.shape)}')
            weight = weight.reshape(n).to(z.dtype)

        w = self.group_weights(label, weight).to(z.dtype)
        target, _ = mapping.targets(label)
        # CE_ig = logsumexp(slice g) - z_target: [N, G]
        ce = mapping.group_logsumexp(z) - z.gather(1, target)
        terms = ce * w
        if reduction == 'none':
            return terms * self.loss_weight
        per_group = terms.sum(0)
        if reduction == 'mean':
            per_group = per_group / w.sum(0).clamp(min=1.)
        per_group = per_group * self.loss_weight
        if not self.split_group_losses:
            return per_group.sum()
        return {
            f'loss_cls_group{g}': per_group[g]
            for g in range(mapping.num_groups)
        }

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, others_sample_ratio='
                f'{self.others_sample_ratio}, split_group_losses='
                f'{self.split_group_losses}, loss_weight={self.loss_weight}')
