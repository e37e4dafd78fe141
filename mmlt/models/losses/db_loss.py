r"""Distribution-Balanced loss for long-tailed multi-label classification
(Wu et al., ECCV 2020; the original repo's ``ResampleLoss``).

Sigmoid BCE over C classes with a multi-hot target ``y``; every option of
the original is one switch of :class:`DistributionBalancedLoss`:

=================  ====================================================
BCE                ``reweight_func=None, focal=dict(focal=False), logit_reg=dict()``
focal              ``reweight_func=None, logit_reg=dict()``
CB-focal           ``reweight_func='CB', logit_reg=dict()`` (effective number)
R-BCE-focal        ``reweight_func='rebalance', logit_reg=dict()``
NTR-focal          ``reweight_func=None`` (NTR on)
DB-focal           the defaults: re-balanced weighting + NTR + focal
=================  ====================================================

**Re-balanced weighting** (``'rebalance'``), sample ``i``, class ``c``,
positives and negatives alike:

.. math::
    r_{ic} = \frac{1/n_c}{\sum_{k \in y_i} 1/n_k},\qquad
    \hat w_{ic} = \alpha + \sigma\big(\beta (r_{ic} - \mu)\big)

(``map_param = dict(alpha, beta, gamma=mu)``). **Negative-tolerant
regularisation** (``logit_reg = dict(init_bias=kappa, neg_scale=lambda)``):
a constant, loss-only class bias ``b_c = -(kappa/lambda) log(N/n_c - 1)``,
``z' = z + b``; negatives use the logit ``lambda z'`` and the weight
``w / lambda``, so their term is ``(w/lambda) log(1 + e^{lambda z'})``.
**Focal** (``focal = dict(focal, gamma, balance_param)``): with
``z''`` the NTR logits and ``p_t = exp(-BCE(z'', y))`` (unweighted),
``L = balance_param (1 - p_t)^gamma w BCE(z'', y)``. The gradient flows
through ``p_t`` as in the original (``cls_score.clone()`` is not detached).
The loss is reduced by mmdet's ``weight_reduce_loss``: the default 'mean'
over B x C is what the original's trainer did with its unreduced output.

Differences from the original ``ResampleLoss``:

* **defaults are the config values** (``configs/coco/LT_resnet50_pfc_DB.py``):
  alpha=0.1, beta=10, mu=0.2, kappa=0.05, lambda=2, gamma=2, balance 2,
  i.e. DB-focal for COCO-MLT. The original's constructor defaults are
  permuted (``map_param=dict(alpha=10, beta=0.2, gamma=0.1)``,
  ``logit_reg=dict(neg_scale=5, init_bias=0.1)``) and no config relies on
  them. VOC-MLT configs pass mu=0.3 and lambda=5.
* classes with no training image raise a ValueError naming them (the
  original divides by zero); with NTR, so does a class present in every
  image (``log(N/n - 1) = -inf``).
* NTR without a re-weighting uses ``w = 1`` (the original crashes on
  ``None / neg_scale``); the logits are not modified in place.
* an image without positives gets ``r = inf`` in 'rebalance' (weight
  ``alpha + 1``, as the original's ``x / 0``), and in the CB 'average_*'
  modes the weight of ``n = N`` (the original gives NaN).
* mmdet's ``weight`` argument multiplies the loss (the original ignored
  it); fp16 inputs are computed in fp32.
"""
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS

__all__ = ['DistributionBalancedLoss']

REWEIGHT_FUNCS = (None, 'rebalance', 'CB', 'inv', 'sqrt_inv')
CB_MODES = ('by_class', 'average_n', 'average_w', 'min_n')


def _get(d: Optional[dict], key: str, default):
    return default if not d or key not in d else d[key]


@MODELS.register_module()
class DistributionBalancedLoss(nn.Module):
    """Distribution-Balanced loss family (see the module docstring).

    Args:
        reweight_func (str, optional): None, 'rebalance' (R-BCE), 'CB'
            (class-balanced, effective number), 'inv' or 'sqrt_inv'
            (N / n_c, its square root).
        focal (dict): ``focal`` (bool), ``gamma``, ``balance_param``.
        map_param (dict): ``alpha``, ``beta``, ``gamma`` (= mu) of the
            re-balanced weighting.
        logit_reg (dict): ``init_bias`` (kappa) and ``neg_scale``
            (lambda) of NTR; an empty dict/None switches NTR off, a missing
            key means kappa = 0 / lambda = 1.
        CB_loss (dict): ``CB_beta`` and ``CB_mode`` ('by_class',
            'average_n', 'average_w', 'min_n').
        weight_norm (str, optional): 'by_instance' or 'by_batch': divide
            the weights by their row / batch maximum.
        num_classes (int, optional): C, checked against the statistics.
        class_freq (list[int], optional): #training images per class.
        neg_class_freq (list[int], optional): N - class_freq (the
            original's field); or give ``num_images``.
        num_images (int, optional): N, #training images.
        freq_file (str, optional): the original's ``class_freq.pkl`` or the
            ``class_freq.json`` of tools/create_longtail_dataset.py.
        stats_file (str, optional): a ClassStats json.
        ann_file (str, optional): training COCO/LVIS json; with
            ``img_id_file`` (the long-tailed subset's ids) — statistics of
            the images ``MultiLabelCocoDataset`` trains on.
        img_id_file (str, optional): see ``ann_file``.
        reduction (str): 'mean' | 'sum' | 'none'.
        loss_weight (float): multiplier.
    """

    def __init__(self,
                 reweight_func: Optional[str] = 'rebalance',
                 focal: Optional[dict] = dict(
                     focal=True, balance_param=2.0, gamma=2),
                 map_param: Optional[dict] = dict(
                     alpha=0.1, beta=10.0, gamma=0.2),
                 logit_reg: Optional[dict] = dict(
                     neg_scale=2.0, init_bias=0.05),
                 CB_loss: Optional[dict] = dict(
                     CB_beta=0.9, CB_mode='average_w'),
                 weight_norm: Optional[str] = None,
                 num_classes: Optional[int] = None,
                 class_freq: Optional[Sequence[int]] = None,
                 neg_class_freq: Optional[Sequence[int]] = None,
                 num_images: Optional[int] = None,
                 freq_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 ann_file: Optional[str] = None,
                 img_id_file: Optional[str] = None,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        owner = 'DistributionBalancedLoss'
        if not use_sigmoid:
            raise ValueError(f'{owner} is a sigmoid (multi-label) loss; '
                             'use_sigmoid=False is not supported')
        if reweight_func not in REWEIGHT_FUNCS:
            raise ValueError(f'{owner}: reweight_func must be one of '
                             f'{REWEIGHT_FUNCS}, got {reweight_func!r}')
        if weight_norm not in (None, 'by_instance', 'by_batch'):
            raise ValueError(f"{owner}: weight_norm must be None, "
                             f"'by_instance' or 'by_batch', got "
                             f'{weight_norm!r}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'{owner}: reduction must be none/mean/sum')
        self.reweight_func = reweight_func
        self.weight_norm = weight_norm
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

        self.focal = bool(_get(focal, 'focal', False))
        self.gamma = float(_get(focal, 'gamma', 2.0))
        self.balance_param = float(_get(focal, 'balance_param', 2.0))

        self.map_alpha = float(_get(map_param, 'alpha', 0.1))
        self.map_beta = float(_get(map_param, 'beta', 10.0))
        self.map_gamma = float(_get(map_param, 'gamma', 0.2))

        self.cb_beta = float(_get(CB_loss, 'CB_beta', 0.9))
        self.cb_mode = _get(CB_loss, 'CB_mode', 'average_w')
        if reweight_func == 'CB':
            if self.cb_mode not in CB_MODES:
                raise ValueError(f'{owner}: CB_mode must be one of '
                                 f'{CB_MODES}, got {self.cb_mode!r}')
            if not 0 < self.cb_beta < 1:
                raise ValueError(f'{owner}: CB_beta must lie in (0, 1), '
                                 f'got {self.cb_beta}')

        self.use_ntr = bool(logit_reg)
        self.neg_scale = float(_get(logit_reg, 'neg_scale', 1.0))
        self.init_bias = float(_get(logit_reg, 'init_bias', 0.0))
        if self.use_ntr and not self.neg_scale > 0:
            raise ValueError(f'{owner}: logit_reg.neg_scale must be > 0, '
                             f'got {self.neg_scale}')

        needs_stats = reweight_func is not None or (self.use_ntr and
                                                    self.init_bias != 0)
        pos, total, names = self._load_stats(owner, class_freq,
                                             neg_class_freq, num_images,
                                             freq_file, stats_file, ann_file,
                                             img_id_file, needs_stats)
        if pos is None:
            if num_classes is None:
                raise ValueError(
                    f'{owner} without class statistics needs num_classes')
            self.num_classes = int(num_classes)
            pos = np.ones(self.num_classes)
            total = 3.0  # unused placeholders (no statistic is needed)
        else:
            self.num_classes = len(pos)
            if num_classes is not None and int(num_classes) != len(pos):
                raise ValueError(
                    f'{owner}: num_classes={num_classes} but the class '
                    f'statistics have {len(pos)} classes')
            self._check_counts(owner, pos, total, names)
        self.num_images = float(total)
        freq = torch.as_tensor(pos, dtype=torch.float64)
        self.register_buffer('class_freq', freq.float(), persistent=False)
        # NTR class bias b_c = -(kappa / lambda) log(N / n_c - 1)
        if self.use_ntr and self.init_bias != 0:
            bias = -torch.log(total / freq - 1) * self.init_bias \
                / self.neg_scale
        else:
            bias = torch.zeros_like(freq)
        self.register_buffer('ntr_bias', bias.float(), persistent=False)

    # ------------------------------------------------------------ stats
    @staticmethod
    def _load_stats(owner, class_freq, neg_class_freq, num_images,
                    freq_file, stats_file, ann_file, img_id_file,
                    needs_stats):
        if class_freq is not None:
            pos = np.asarray(class_freq, dtype=np.float64).reshape(-1)
            if neg_class_freq is not None:
                neg = np.asarray(neg_class_freq, np.float64).reshape(-1)
                if len(neg) != len(pos):
                    raise ValueError(f'{owner}: class_freq and '
                                     'neg_class_freq differ in length')
                total = float(pos[0] + neg[0])
            elif num_images is not None:
                total = float(num_images)
            else:
                raise ValueError(
                    f'{owner}: class_freq needs neg_class_freq or '
                    'num_images (N, the number of training images)')
            return pos, total, None
        if not (freq_file or stats_file or ann_file):
            if needs_stats:
                raise ValueError(
                    f'{owner} needs class statistics for reweight_func / '
                    'NTR: set freq_file (class_freq.json/.pkl), ann_file '
                    '(+ img_id_file) of the training set, stats_file, or '
                    'class_freq + num_images')
            return None, None, None
        from mmlt.datasets.class_stats import (check_stats_paths,
                                               get_multilabel_stats)
        check_stats_paths(
            owner, 'loss_cls',
            dict(freq_file=freq_file, stats_file=stats_file,
                 ann_file=ann_file, img_id_file=img_id_file),
            'point it at the training set (class_freq.json from '
            'tools/create_longtail_dataset.py, or the annotation json + '
            'image-id list)', 'pass class_freq + num_images')
        stats = get_multilabel_stats(
            ann_file=ann_file,
            img_id_file=img_id_file,
            stats_file=stats_file,
            freq_file=freq_file)
        return (stats.image_count.astype(np.float64),
                float(stats.num_images), stats.names)

    def _check_counts(self, owner, pos, total, names):
        if not np.isfinite(pos).all() or (pos < 0).any():
            raise ValueError(f'{owner}: class_freq must be finite and >= 0')

        def _which(mask):
            idx = np.flatnonzero(mask)
            shown = ', '.join(
                f'{i}' + (f" ('{names[i]}')" if names is not None else '')
                for i in idx[:10])
            return f'{len(idx)} class(es) [{shown}' + \
                (', ...]' if len(idx) > 10 else ']')

        needs = self.reweight_func is not None or (self.use_ntr and
                                                  self.init_bias != 0)
        if needs and (pos == 0).any():
            raise ValueError(
                f'{owner}: {_which(pos == 0)} have no positive training '
                'image; the re-balanced / CB / inverse weights and the NTR '
                'bias divide by the class count. Use a training subset '
                'that contains every class (tools/create_longtail_dataset.'
                'py keeps >= --min-count images per class) or drop these '
                'classes from the model')
        if (pos > total).any():
            raise ValueError(
                f'{owner}: {_which(pos > total)} have more positive images '
                f'than N={total:g}; class_freq and the number of images do '
                'not describe the same set')
        if self.use_ntr and self.init_bias != 0 and (pos == total).any():
            raise ValueError(
                f'{owner}: {_which(pos == total)} are in every training '
                'image, so the NTR bias -(kappa/lambda) log(N/n - 1) is '
                'infinite; set logit_reg.init_bias=0 or add images')

    # ---------------------------------------------------------- weights
    def rebalance_weight(self, labels: Tensor) -> Tensor:
        """alpha + sigmoid(beta (r - mu)), [B, C]; rows without a positive
        have r = inf (weight alpha + 1)."""
        freq_inv = 1.0 / self.class_freq.to(labels.dtype)
        repeat_rate = (labels * freq_inv).sum(1, keepdim=True)
        has_pos = repeat_rate > 0
        r = freq_inv / torch.where(has_pos, repeat_rate,
                                   torch.ones_like(repeat_rate))
        s = torch.sigmoid(self.map_beta * (r - self.map_gamma))
        s = torch.where(has_pos, s, torch.ones_like(s))
        return s + self.map_alpha

    def _effective(self, n: Tensor) -> Tensor:
        # (1 - beta) / (1 - beta^n), 1 - beta^n via expm1
        return (1 - self.cb_beta) / -torch.expm1(n * np.log(self.cb_beta))

    def cb_weight(self, labels: Tensor) -> Tensor:
        """Class-balanced (effective number) weights: [C] ('by_class') or
        [B, 1]."""
        freq = self.class_freq.to(labels.dtype)
        if self.cb_mode == 'by_class':
            return self._effective(freq)
        npos = labels.sum(1, keepdim=True)
        has_pos = npos > 0
        safe = torch.where(has_pos, npos, torch.ones_like(npos))
        big = torch.full_like(npos, self.num_images)
        if self.cb_mode == 'average_n':
            n = torch.where(has_pos, (labels * freq).sum(1, keepdim=True) /
                            safe, big)
            return self._effective(n)
        if self.cb_mode == 'average_w':
            w = (labels * self._effective(freq)).sum(1, keepdim=True) / safe
            return torch.where(has_pos, w, self._effective(big))
        # min_n
        masked = torch.where(labels > 0, freq.expand_as(labels),
                             torch.full_like(labels, float('inf')))
        n = masked.min(1, keepdim=True).values
        return self._effective(torch.where(has_pos, n, big))

    def rw_weight(self) -> Tensor:
        w = self.num_images / self.class_freq
        return w.sqrt() if self.reweight_func == 'sqrt_inv' else w

    def reweight(self, labels: Tensor) -> Optional[Tensor]:
        """The re-weighting of ``reweight_func`` (None without one)."""
        if self.reweight_func is None:
            return None
        if self.reweight_func == 'rebalance':
            w = self.rebalance_weight(labels)
        elif self.reweight_func == 'CB':
            w = self.cb_weight(labels)
        else:
            w = self.rw_weight().to(labels.dtype)
        if self.weight_norm == 'by_instance':
            w = w.expand_as(labels)
            w = w / w.max(1, keepdim=True).values
        elif self.weight_norm == 'by_batch':
            w = w / w.max()
        return w

    def ntr(self, logits: Tensor, labels: Tensor,
            weight: Optional[Tensor]):
        """NTR logits ``z''`` and weights (returns new tensors)."""
        if not self.use_ntr:
            return logits, weight
        z = logits + self.ntr_bias.to(logits.dtype)
        lam = self.neg_scale
        z = torch.where(labels > 0, z, z * lam)
        if weight is None:
            weight = torch.ones_like(labels)
        weight = torch.where(labels > 0, weight.expand_as(labels),
                             weight.expand_as(labels) / lam)
        return z, weight

    # ---------------------------------------------------------- forward
    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Args:
            cls_score: [B, C] logits.
            label: [B, C] multi-hot targets (0/1).
            weight: optional element ([B, C]) or sample ([B]) weights.
        """
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        if cls_score.dim() != 2 or cls_score.shape[1] != self.num_classes:
            raise ValueError(
                f'DistributionBalancedLoss: cls_score must be [B, '
                f'{self.num_classes}], got {tuple(cls_score.shape)}')
        if label.shape != cls_score.shape:
            raise ValueError(
                'DistributionBalancedLoss: label must be the multi-hot '
                f'matrix of cls_score\'s shape {tuple(cls_score.shape)}, '
                f'got {tuple(label.shape)}')
        dtype = torch.float64 if cls_score.dtype == torch.float64 \
            else torch.float32
        with torch.autocast(cls_score.device.type, enabled=False):
            z = cls_score.to(dtype)
            y = label.to(dtype)
            w = self.reweight(y)
            z, w = self.ntr(z, y, w)
            bce = F.binary_cross_entropy_with_logits(z, y, reduction='none')
            if self.focal:
                pt = torch.exp(-bce)
                loss = self.balance_param * (1 - pt).pow(self.gamma) * bce
            else:
                loss = bce
            if w is not None:
                loss = loss * w
            if weight is not None:
                weight = weight.to(dtype)
                if weight.dim() == 1:
                    weight = weight[:, None]
                weight = weight.expand_as(loss)
            loss = weight_reduce_loss(loss, weight, reduction, avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, reweight_func='
                f'{self.reweight_func!r}, focal={self.focal}, ntr='
                f'{self.use_ntr} (kappa={self.init_bias}, lambda='
                f'{self.neg_scale})')
