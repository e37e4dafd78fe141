"""Learnable weight scaling (LWS; Kang et al., "Decoupling Representation and
Classifier for Long-Tailed Recognition", ICLR 2020)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmdet.registry import MODELS

__all__ = ['LWSLinear']


@MODELS.register_module()
class LWSLinear(nn.Linear):
    r"""Linear classifier with a learnable per-class scale of its weights.

    .. math::
        z = x\,(s \odot W)^\top + b, \qquad s \in \mathbb{R}^{K\times 1},
        \; s = 1 \text{ at init}

    so row ``W_j`` becomes ``s_j W_j``. Stage 2 of LWS keeps the stage-1
    ``W`` and ``b`` frozen and trains only ``s`` (``trainable=
    [r'...fc_cls\.scales']``) with class-aware sampling. The bias is **not**
    scaled, as in the eqlv2 repo's ``LWSLinear`` (Kang et al. use no bias);
    it stays the stage-1 value.

    Used as the classifier of mmdet's bbox heads:
    ``bbox_head=dict(cls_predictor_cfg=dict(type='LWSLinear'))`` (BBoxHead
    builds it with ``in_features``/``out_features``).

    Checkpoints: the parameter names ``weight``/``bias`` are those of
    ``nn.Linear``, so stage-1 checkpoints load as they are; a missing
    ``scales`` entry is filled with ones (the LWS initialisation, silently,
    also under ``strict=True``), and the eqlv2 repo's name
    ``weight_scaler`` is accepted for it.

    Args:
        in_features (int): input size.
        out_features (int): number of classes K (C + 1 with background).
        bias (bool): whether the layer has a (non-scaled) bias.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 **kwargs) -> None:
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self.scales = nn.Parameter(torch.ones(out_features, 1))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if hasattr(self, 'scales'):  # nn.Linear.__init__ calls this first
            nn.init.ones_(self.scales)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scales, self.bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + 'scales'
        legacy = prefix + 'weight_scaler'
        if key not in state_dict:
            if legacy in state_dict:
                state_dict[key] = state_dict.pop(legacy)
            elif prefix + 'weight' in state_dict:
                # a plain nn.Linear checkpoint (LWS stage 1): start at s = 1
                state_dict[key] = torch.ones_like(self.scales)
                print_log(
                    f'LWSLinear: no {key!r} in the checkpoint (stage-1 '
                    'nn.Linear classifier); scales start at 1',
                    logger='current')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return super().extra_repr() + ', scaled_rows=True'
