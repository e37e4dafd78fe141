"""The RoI head of LOCE (Feng et al., "Exploring Classification Equilibrium
in Long-Tailed Object Detection", ICCV 2021): mmdet's ``StandardRoIHead``
plus the mean-score update and memory-augmented feature sampling (MFS) in
the box branch."""
from typing import List, Optional, Tuple

import torch
from mmengine.config import ConfigDict
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from mmlt.models.layers.mean_score import (MeanScoreTracker,
                                           group_mean_scores,
                                           sampled_gt_group_ids)
from mmlt.models.layers.memory_bank import (FeatureMemoryBank,
                                            generate_memory_items)

__all__ = ['LoceRoIHead']

_MFS_KEYS = ('queue_size', 'sampled_num_classes', 'sampled_num_features',
             'num_jitter', 'device', 'dtype')


@MODELS.register_module()
class LoceRoIHead(StandardRoIHead):
    r"""``StandardRoIHead`` whose box loss runs LOCE's per-iteration steps.

    Training iteration, box branch (:meth:`bbox_loss`):

    1. RoI features of the sampled RoIs (as mmdet);
    2. MFS (if ``mfs`` is set): 16 jittered boxes per GT are pooled
       (detached) and enqueued in the per-class
       :class:`~mmlt.models.layers.FeatureMemoryBank`; then
       ``sampled_num_classes`` classes are drawn with :math:`P(c) \propto
       1/m_c` and ``sampled_num_features`` stored features of each; they are
       appended after the sampled RoIs, with classification and regression
       weight 1 (they count in ``avg_factor``);
    3. the bbox head runs once on all features;
    4. the mean score ``m`` is updated from ``softmax(z).detach()``: one
       entry per GT with >= 1 positive RoI, one per class among the memory
       samples (gathered over ranks);
    5. the box losses, with the updated ``m`` (Equilibrium Loss).

    The mask branch and inference are mmdet's (memory samples never reach
    the mask head; inference is plain softmax).

    The tracker is the classification loss's (``EquilibriumLoss.tracker``)
    when it has one; otherwise (MFS with plain CE) the head owns one, built
    from ``tracker`` (keys of :class:`MeanScoreTracker` except
    ``num_classes``), saved as ``roi_head.tracker.mean_score``.

    Args:
        mfs (dict, optional): memory-augmented feature sampling; ``None``
            disables it.  Keys: ``queue_size`` (80), ``sampled_num_classes``
            (8), ``sampled_num_features`` (4), ``num_jitter`` (16, boxes per
            GT), ``device`` ('cpu' | 'cuda[:i]' | 'auto') and ``dtype``
            ('float16' | 'bfloat16' | 'float32') of the bank.
        tracker (dict, optional): head-owned tracker settings (``alpha``,
            ``bg_score``, ``init_score``); an error if the loss has its own.
        update_mean_score (bool): update ``m`` in training forwards; the
            memory init hook turns it off while refilling the bank on
            resume (``m`` is restored from the checkpoint there).
        **kwargs: ``StandardRoIHead`` arguments.
    """

    def __init__(self,
                 *args,
                 mfs: Optional[dict] = None,
                 tracker: Optional[dict] = None,
                 update_mean_score: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.with_bbox:
            raise ValueError('LoceRoIHead needs a bbox head '
                             '(model.roi_head.bbox_head)')
        head = self.bbox_head
        if getattr(head, 'reg_decoded_bbox', False) and mfs is not None:
            raise ValueError(
                'LoceRoIHead: memory samples store encoded regression '
                'targets; model.roi_head.bbox_head.reg_decoded_bbox=True '
                '(IoU-type box losses) is not supported with mfs')
        if self.with_shared_head and mfs is not None:
            raise ValueError('LoceRoIHead: mfs with a shared_head (C4 '
                             'models) is not supported')
        loss_cls = head.loss_cls
        if getattr(loss_cls, 'use_sigmoid', False) or getattr(
                loss_cls, 'custom_cls_channels', False):
            raise ValueError(
                'LoceRoIHead: the mean score is a softmax probability over '
                'C + 1 logits; model.roi_head.bbox_head.loss_cls '
                f'({type(loss_cls).__name__}) must be a softmax loss '
                '(EquilibriumLoss, or CrossEntropyLoss with use_sigmoid='
                'False)')
        self.num_classes = int(head.num_classes)
        loss_tracker = getattr(head.loss_cls, 'tracker', None)
        if loss_tracker is not None:
            if tracker:
                raise ValueError(
                    'LoceRoIHead: model.roi_head.tracker is set but '
                    f'{type(head.loss_cls).__name__} has its own mean-score '
                    'tracker; set alpha/bg_score on '
                    'model.roi_head.bbox_head.loss_cls instead')
            if loss_tracker.num_classes != self.num_classes:
                raise ValueError(
                    'LoceRoIHead: model.roi_head.bbox_head.loss_cls.'
                    f'num_classes={loss_tracker.num_classes} != bbox_head.'
                    f'num_classes={self.num_classes}')
            self.tracker = None
        else:
            self.tracker = MeanScoreTracker(self.num_classes,
                                            **(tracker or {}))
        self.update_mean_score = bool(update_mean_score)

        self.mfs_cfg = None
        self.memory_bank = None
        if mfs is not None:
            unknown = set(mfs) - set(_MFS_KEYS)
            if unknown:
                raise ValueError(
                    f'LoceRoIHead: unknown key(s) {sorted(unknown)} in '
                    f'model.roi_head.mfs; expected a subset of {_MFS_KEYS}')
            cfg = dict(queue_size=80, sampled_num_classes=8,
                       sampled_num_features=4, num_jitter=16, device='cpu',
                       dtype='float16')
            cfg.update(mfs)
            for key in ('sampled_num_classes', 'sampled_num_features',
                        'num_jitter'):
                if int(cfg[key]) < 1:
                    raise ValueError(f'LoceRoIHead: model.roi_head.mfs.{key}'
                                     f' must be >= 1, got {cfg[key]}')
            self.mfs_cfg = ConfigDict(cfg)
            extractor = self.bbox_roi_extractor
            size = extractor.roi_layers[0].output_size
            size = (size, size) if isinstance(size, int) else tuple(size)
            self.memory_bank = FeatureMemoryBank(
                self.num_classes,
                queue_size=cfg['queue_size'],
                feat_shape=(extractor.out_channels, ) + size,
                device=cfg['device'],
                dtype=cfg['dtype'])

    # ------------------------------------------------------------- state
    @property
    def with_mfs(self) -> bool:
        return self.memory_bank is not None

    @property
    def mean_score_tracker(self) -> MeanScoreTracker:
        """The tracker in use (the loss's or the head's own)."""
        if self.tracker is not None:
            return self.tracker
        return self.bbox_head.loss_cls.tracker

    # ------------------------------------------------------------ training
    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: List[DetDataSample]) -> dict:
        """mmdet's ``StandardRoIHead.loss``; the GT instances and image metas
        are kept for :meth:`bbox_loss` (MFS jitters the GT boxes)."""
        gts, _, metas = unpack_gt_instances(batch_data_samples)
        self._batch = (gts, metas)
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._batch = None

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box branch with the LOCE steps (see the class doc); returns
        mmdet's dict, ``bbox_feats`` of the sampled RoIs only."""
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_feats = self.bbox_roi_extractor(
            x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        n = bbox_feats.shape[0]
        labels, label_weights, bbox_targets, bbox_weights = \
            self.bbox_head.get_targets(sampling_results, self.train_cfg)
        tracker = self.mean_score_tracker

        feats = bbox_feats
        if self.with_mfs:
            m_feats, m_labels, m_targets = self._memory_samples(
                x, bbox_feats, tracker.mean_score)
            if m_feats.shape[0]:
                k = m_feats.shape[0]
                feats = torch.cat([bbox_feats, m_feats])
                labels = torch.cat([labels, m_labels])
                label_weights = torch.cat(
                    [label_weights, label_weights.new_ones(k)])
                reg_dim = bbox_targets.shape[1]
                if m_targets.shape[1] != reg_dim:
                    raise ValueError(
                        f'LoceRoIHead: memory targets have {m_targets.shape[1]}'
                        f' values, the bbox head regresses {reg_dim}')
                bbox_targets = torch.cat(
                    [bbox_targets, m_targets.to(bbox_targets.dtype)])
                bbox_weights = torch.cat(
                    [bbox_weights, bbox_weights.new_ones(k, reg_dim)])
                # rois are only read for reg_decoded_bbox (refused with mfs)
                rois_all = torch.cat([rois, rois.new_zeros(k, 5)])
            else:
                rois_all = rois
        else:
            rois_all = rois

        cls_score, bbox_pred = self.bbox_head(feats)

        if self.update_mean_score:
            self._update_mean_score(tracker, cls_score, labels, n,
                                    sampling_results)

        loss_bbox = self.bbox_head.loss(cls_score, bbox_pred, rois_all,
                                        labels, label_weights, bbox_targets,
                                        bbox_weights)
        return dict(
            cls_score=cls_score[:n],
            bbox_pred=bbox_pred[:n],
            bbox_feats=bbox_feats,
            loss_bbox=loss_bbox)

    def _memory_samples(self, x: Tuple[Tensor], bbox_feats: Tensor,
                        mean_score: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Enqueue this batch's jittered GT features, then draw from the
        bank (enqueue first, as the original)."""
        gts, metas = self._batch
        cfg = self.mfs_cfg
        coder = None if self.bbox_head.reg_decoded_bbox else \
            self.bbox_head.bbox_coder
        feats, labels, targets = generate_memory_items(
            self.bbox_roi_extractor, x, gts, metas, coder,
            num=cfg.num_jitter)
        self.memory_bank.enqueue(feats, labels, targets)
        return self.memory_bank.sample(
            mean_score,
            cfg.sampled_num_classes,
            cfg.sampled_num_features,
            device=bbox_feats.device,
            dtype=bbox_feats.dtype)

    @torch.no_grad()
    def _update_mean_score(self, tracker: MeanScoreTracker, cls_score: Tensor,
                           labels: Tensor, n: int,
                           sampling_results: List[SamplingResult]) -> None:
        if cls_score.shape[1] != self.num_classes + 1:
            raise ValueError(
                f'LoceRoIHead: cls_score has {cls_score.shape[1]} columns, '
                f'the mean score needs a softmax over C + 1 = '
                f'{self.num_classes + 1}; use a softmax classification loss')
        prob = torch.softmax(cls_score.detach().float(), dim=1)
        gid = sampled_gt_group_ids(sampling_results).to(prob.device)
        l1, s1 = group_mean_scores(prob[:n], labels[:n], gid)
        mem_labels = labels[n:]
        l2, s2 = group_mean_scores(prob[n:], mem_labels, mem_labels)
        # a collective under torch.distributed: every rank, every iteration
        tracker.update(torch.cat([l1, l2]), torch.cat([s1, s2]))
