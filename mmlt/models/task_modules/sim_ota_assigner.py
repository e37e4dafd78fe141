"""SimOTA with a class cost that does not grow with priors x GTs x classes.

mmdet's ``SimOTAAssigner`` (YOLOX, Ge et al. 2021) builds its
classification cost as ``BCE(p_i, onehot(l_j)).sum(-1)`` on tensors of
shape ``(num_valid_priors, num_gt, num_classes)``. With LVIS's 1,203 classes
this is the largest allocation of a YOLOX step: a 640 px mosaic has ~8,400
priors, so 100 GTs make three 4 GB float32 tensors per image (the one-hot,
the repeated scores and the BCE), and a mosaic of four crowded LVIS images
(hundreds of GTs) asks for tens of GB, on a GPU as on a CPU.

The sum over classes splits into a per-prior term and a per-pair correction
(``l_j`` the label of GT ``j``)::

    sum_c BCE(p_ic, [c = l_j]) = sum_c -log(1 - p_ic)
                                 + log(1 - p_il_j) - log(p_il_j)

which needs ``(num_valid, num_classes)`` and ``(num_valid, num_gt)`` only.
Each log is clamped at -100 as ``F.binary_cross_entropy`` does, so the cost,
and the assignment, equal mmdet's up to float summation order.
"""
import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.task_modules.assigners import AssignResult, SimOTAAssigner
from mmdet.registry import TASK_UTILS

INF = 100000.0  # as mmdet's SimOTAAssigner
EPS = 1.0e-7


def simota_class_cost(scores: Tensor, gt_labels: Tensor) -> Tensor:
    """``BCE(scores_i, onehot(gt_labels_j)).sum(-1)`` for every (i, j).

    Args:
        scores: (N, C) probabilities.
        gt_labels: (G,) class indices.

    Returns:
        (N, G) float32 cost, computed in float32 (autocast off) as mmdet.
    """
    with torch.autocast(device_type=scores.device.type, enabled=False):
        p = scores.float()
        log_p = torch.log(p).clamp(min=-100.)
        log_1mp = torch.log1p(-p).clamp(min=-100.)
        # log1p(-p) is log(1 - p) with the same clamp at p = 1
        all_negative = -log_1mp.sum(-1, keepdim=True)  # (N, 1)
        labels = gt_labels.long()
        return all_negative + log_1mp[:, labels] - log_p[:, labels]


@TASK_UTILS.register_module()
class MemoryEfficientSimOTAAssigner(SimOTAAssigner):
    """mmdet's ``SimOTAAssigner`` with :func:`simota_class_cost`.

    Same arguments, same assignment; memory ``O(V * (C + G))`` instead of
    ``O(V * G * C)`` for ``V`` candidate priors, ``G`` GTs and ``C``
    classes. Use it for YOLOX on LVIS-sized label spaces::

        model = dict(train_cfg=dict(assigner=dict(
            type='MemoryEfficientSimOTAAssigner', center_radius=2.5)))
    """

    def assign(self,
               pred_instances: InstanceData,
               gt_instances: InstanceData,
               gt_instances_ignore=None,
               **kwargs) -> AssignResult:
        gt_bboxes = gt_instances.bboxes
        gt_labels = gt_instances.labels
        num_gt = gt_bboxes.size(0)
        decoded_bboxes = pred_instances.bboxes
        pred_scores = pred_instances.scores
        priors = pred_instances.priors
        num_bboxes = decoded_bboxes.size(0)

        assigned_gt_inds = decoded_bboxes.new_full((num_bboxes, ),
                                                   0,
                                                   dtype=torch.long)
        empty = num_gt == 0 or num_bboxes == 0
        if not empty:
            valid_mask, in_boxes_and_center = \
                self.get_in_gt_and_in_center_info(priors, gt_bboxes)
            empty = not bool(valid_mask.any())
        if empty:
            return AssignResult(
                num_gt,
                assigned_gt_inds,
                decoded_bboxes.new_zeros((num_bboxes, )),
                labels=decoded_bboxes.new_full((num_bboxes, ),
                                               -1,
                                               dtype=torch.long))

        valid_scores = pred_scores[valid_mask]
        pairwise_ious = self.iou_calculator(decoded_bboxes[valid_mask],
                                            gt_bboxes)
        iou_cost = -torch.log(pairwise_ious + EPS)
        cls_cost = simota_class_cost(valid_scores,
                                     gt_labels).to(valid_scores.dtype)
        cost_matrix = (
            cls_cost * self.cls_weight + iou_cost * self.iou_weight +
            (~in_boxes_and_center) * INF)

        matched_pred_ious, matched_gt_inds = self.dynamic_k_matching(
            cost_matrix, pairwise_ious, num_gt, valid_mask)

        assigned_gt_inds[valid_mask] = matched_gt_inds + 1
        assigned_labels = assigned_gt_inds.new_full((num_bboxes, ), -1)
        assigned_labels[valid_mask] = gt_labels[matched_gt_inds].long()
        max_overlaps = assigned_gt_inds.new_full((num_bboxes, ),
                                                 -INF,
                                                 dtype=torch.float32)
        max_overlaps[valid_mask] = matched_pred_ious
        return AssignResult(
            num_gt, assigned_gt_inds, max_overlaps, labels=assigned_labels)
