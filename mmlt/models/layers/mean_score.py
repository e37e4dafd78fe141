r"""Per-class mean classification score of LOCE (Feng et al., "Exploring
Classification Equilibrium in Long-Tailed Object Detection", ICCV 2021).

The score :math:`m_c` is an exponential moving average of the softmax
probability the detector assigns to class c on its own training instances.
It drives the Equilibrium Loss (:class:`~mmlt.models.losses.EquilibriumLoss`,
margins ``log(m_j / m_y)``) and the class draw of the feature memory bank
(:class:`~mmlt.models.layers.FeatureMemoryBank`, ``P(c) ∝ 1 / m_c``).

How a LOCE RoI head produces the entries of one training iteration (spec
``methods.md`` §3 steps 1-2), with ``prob = softmax(cls_score).detach()``
of the **plain** logits (no ``log m`` term) and ``labels`` the RoI
classification targets (mmdet: ``0..C-1`` foreground, ``C`` background)::

    # (1) one entry per GT box with >= 1 positive sampled RoI
    gid = sampled_gt_group_ids(sampling_results)          # [N_sampled]
    l1, s1 = group_mean_scores(prob[:n_sampled], labels[:n_sampled], gid)
    # (2) one entry per class among the memory samples appended after them
    l2, s2 = group_mean_scores(prob[n_sampled:], labels[n_sampled:],
                               labels[n_sampled:])
    tracker.update(torch.cat([l1, l2]), torch.cat([s1, s2]))
    # ... then the loss of the same iteration (it reads the updated m)

``update`` is a collective under torch.distributed: call it exactly once
per iteration on every rank, also when a rank has no entry.
"""
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from mmdet.registry import MODELS
from mmlt.utils.dist import all_gather_cat

__all__ = ['MeanScoreTracker', 'group_mean_scores', 'sampled_gt_group_ids']

#: config key under which LOCE's tracker settings live
TRACKER_KEY = 'model.roi_head.bbox_head.loss_cls'


def group_mean_scores(prob: Tensor, labels: Tensor,
                      group_ids: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Mean probability of the target class over the members of each group.

    .. math:: s_g = \frac{1}{|G_g|}\sum_{i \in G_g} p_{i, l_i}

    Rows with ``group_ids < 0`` are ignored (e.g. negative RoIs).  All
    members of a group must share one label (a GT box's positive RoIs do).

    Args:
        prob (Tensor): [N, C+1] softmax probabilities (detached here).
        labels (LongTensor): [N] target class of each row.
        group_ids (LongTensor): [N] group of each row: the global GT index
            of a positive RoI (:func:`sampled_gt_group_ids`) for per-GT
            entries, the class id itself for per-class entries.

    Returns:
        tuple[LongTensor, Tensor]: ``labels [K]`` and float64 ``scores
        [K]``, one entry per distinct group id in ascending order of the id
        (K = 0 when no row is kept), on ``prob``'s device.
    """
    if prob.dim() != 2:
        raise ValueError('group_mean_scores: prob must be [N, C+1], got '
                         f'shape {tuple(prob.shape)}')
    n = prob.shape[0]
    if labels.shape != (n, ) or group_ids.shape != (n, ):
        raise ValueError(
            f'group_mean_scores: labels {tuple(labels.shape)} and group_ids '
            f'{tuple(group_ids.shape)} must both have shape ({n},)')
    keep = group_ids >= 0
    lab = labels[keep].long()
    gid = group_ids[keep].long()
    if lab.numel() and (lab.min() < 0 or lab.max() >= prob.shape[1]):
        raise ValueError(
            f'group_mean_scores: labels of kept rows must lie in [0, '
            f'{prob.shape[1]}), got [{int(lab.min())}, {int(lab.max())}]')
    score = prob.detach()[keep].gather(1, lab[:, None]).squeeze(1).double()
    uniq, inv = torch.unique(gid, sorted=True, return_inverse=True)
    k = uniq.numel()
    count = torch.bincount(inv, minlength=k).to(score.dtype)
    mean = score.new_zeros(k).index_add_(0, inv, score) / count.clamp(min=1)
    lab_max = lab.new_full((k, ), -1).scatter_reduce(
        0, inv, lab, 'amax', include_self=False)
    lab_min = lab.new_full((k, ), -1).scatter_reduce(
        0, inv, lab, 'amin', include_self=False)
    if not torch.equal(lab_max, lab_min):
        raise ValueError('group_mean_scores: rows of one group have '
                         'different labels; group_ids must not mix classes')
    return lab_max, mean


def sampled_gt_group_ids(sampling_results: Sequence) -> Tensor:
    """Global GT index of every sampled RoI, -1 for negatives.

    Row order is mmdet's: per image ``res.priors`` = positives then
    negatives (``bbox2roi([res.priors ...])``, ``BBoxHead.get_targets``);
    image i's GT indices are offset by the GT count of images ``< i``, so
    GT boxes of different images never share a group.  Unlike the
    original, which assumes ``sampler.num`` RoIs per image, the real
    per-image counts are used.

    Args:
        sampling_results (list[SamplingResult]): of the batch.

    Returns:
        LongTensor: [sum_i len(res.priors)].
    """
    out: List[Tensor] = []
    offset = 0
    for res in sampling_results:
        pos = res.pos_assigned_gt_inds.long() + offset
        out.append(pos)
        out.append(pos.new_full((res.neg_inds.numel(), ), -1))
        offset += int(res.num_gts)
    if not out:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat(out)


@MODELS.register_module()
class MeanScoreTracker(nn.Module):
    r"""Per-class mean score ``m`` [C+1] with LOCE's count-aware EMA.

    For every class c with :math:`n_c` entries :math:`s_{c,1..n_c}` in an
    update (all ranks' entries together):

    .. math::
        m_c \leftarrow \alpha^{n_c} m_c + (1 - \alpha^{n_c})\,
        \frac{1}{n_c}\sum_k s_{c,k}

    i.e. the same as :math:`n_c` single EMA steps towards the batch mean;
    classes without entries are unchanged and the background entry
    :math:`m_C` is reset to ``bg_score`` after every update.

    State: the buffer ``mean_score`` (float64 [C+1]) is persistent, so it
    is saved in checkpoints and ``--resume`` continues with the same
    margins; the original kept it in a plain tensor, lost it on resume and
    relied on its init hook to rebuild it.  float64 because the state is
    tiny (C+1 values), the EMA runs for ~1e5 iterations and a distributed
    run sums the gathered entries in a different order than a replay:
    rounding stays at 1e-16 instead of 1e-7, so ranks and replays agree to
    that precision.  It is also what the memory bank's class draw reads.

    Distributed: ``update`` all-gathers the (label, score) entries of every
    rank when torch.distributed is initialised (variable count per rank,
    padding dropped by the gathered sizes, like the original's label -1
    padding), so every rank applies the same update and ``m`` stays
    identical everywhere.  It is a collective: call it once per iteration
    on every rank, also with K = 0.

    Args:
        num_classes (int): C (foreground classes).
        alpha (float): EMA factor per entry, in [0, 1) (0.9).
        bg_score (float): fixed background entry, in (0, 1] (0.01).
        init_score (float): initial foreground entries, in (0, 1] (0.01).
    """

    #: prefix of the keys logged by LossStateLoggerHook
    log_name = 'loce'

    def __init__(self,
                 num_classes: int,
                 alpha: float = 0.9,
                 bg_score: float = 0.01,
                 init_score: float = 0.01) -> None:
        super().__init__()
        name = type(self).__name__
        if int(num_classes) < 1:
            raise ValueError(f'{name}: {TRACKER_KEY}.num_classes must be '
                             f'>= 1, got {num_classes}')
        if not 0.0 <= float(alpha) < 1.0:
            raise ValueError(f'{name}: {TRACKER_KEY}.alpha must lie in '
                             f'[0, 1), got {alpha}')
        for key, v in (('bg_score', bg_score), ('init_score', init_score)):
            if not 0.0 < float(v) <= 1.0:
                raise ValueError(f'{name}: {TRACKER_KEY}.{key} must lie in '
                                 f'(0, 1], got {v}')
        self.num_classes = int(num_classes)
        self.alpha = float(alpha)
        self.bg_score = float(bg_score)
        self.init_score = float(init_score)
        self.register_buffer(
            'mean_score',
            torch.empty(self.num_classes + 1, dtype=torch.float64),
            persistent=True)
        self.reset()

    @torch.no_grad()
    def reset(self) -> None:
        """``m = init_score`` for the classes, ``bg_score`` for background
        (the original starts bg at 0.01 too and forces it on update)."""
        self.mean_score.fill_(self.init_score)
        self.mean_score[self.num_classes] = self.bg_score

    @torch.no_grad()
    def update(self, labels: Tensor, scores: Tensor) -> Tensor:
        """Apply one iteration's entries (see the class doc).

        Args:
            labels (LongTensor): [K] class of each entry; entries with
                label < 0 are ignored, label C (background) has no effect.
            scores (Tensor): [K] mean score of each entry.  Non-finite
                scores are ignored: under fp16 AMP an overflowing iteration
                is skipped by the grad scaler, and must not poison ``m``.

        Returns:
            Tensor: ``mean_score`` (updated in place).
        """
        name = type(self).__name__
        if labels.dim() != 1 or scores.shape != labels.shape:
            raise ValueError(
                f'{name}.update: labels and scores must be 1-D of the same '
                f'length, got {tuple(labels.shape)} and '
                f'{tuple(scores.shape)}')
        c = self.num_classes
        if labels.numel() and int(labels.max()) > c:
            raise ValueError(
                f'{name}.update: label {int(labels.max())} > C = {c}; '
                f'{TRACKER_KEY}.num_classes must equal the head\'s '
                'num_classes')
        # one [K, 2] float64 tensor -> one gather; labels < 2^53 are exact
        entries = torch.stack(
            [labels.detach().double(),
             scores.detach().double()], 1)
        entries = all_gather_cat(entries).to(self.mean_score.device)
        lab, val = entries[:, 0], entries[:, 1]
        valid = (lab >= 0) & torch.isfinite(val)
        lab, val = lab[valid].long(), val[valid].to(self.mean_score.dtype)
        m = self.mean_score
        n = torch.bincount(lab, minlength=c + 1).to(m.dtype)
        total = torch.zeros_like(m).index_add_(0, lab, val)
        mean = total / n.clamp(min=1)
        # n = 0 gives alpha^0 = 1: m_c * 1 + 0 * 0, exactly unchanged
        decay = torch.pow(m.new_tensor(self.alpha), n)
        m.mul_(decay).add_((1 - decay) * mean)
        m[c] = self.bg_score
        return m

    def group_weight_stats(
        self, groups: Union[Dict[str, Sequence[int]], Sequence[str],
                            np.ndarray]
    ) -> Dict[str, float]:
        """Mean ``m`` per class group, for ``LossStateLoggerHook``
        (``train/loce_mean_score_r`` etc.).

        Args:
            groups: per-class letters (``ClassStats.groups``) or a dict
                name -> label indices.
        """
        from mmlt.models.losses.utils import group_means
        return group_means(dict(mean_score=self.mean_score), groups,
                           self.num_classes)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, alpha={self.alpha}, '
                f'bg_score={self.bg_score}, init_score={self.init_score}')
