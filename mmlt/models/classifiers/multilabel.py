"""Multi-label image classifier of the Distribution-Balanced loss paper:
backbone -> global average pooling -> neck (PFC) -> linear classifier,
trained with a sigmoid loss on multi-hot targets."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmdet.registry import MODELS

__all__ = ['MultiLabelClassifier', 'multi_hot']


def multi_hot(data_samples: List[BaseDataElement], num_classes: int,
              device=None) -> Tensor:
    """[B, C] float 0/1 matrix from the samples' ``gt_label`` indices."""
    out = torch.zeros(len(data_samples), num_classes, device=device)
    for i, s in enumerate(data_samples):
        lab = torch.as_tensor(s.gt_label, dtype=torch.long).reshape(-1)
        if len(lab) and (lab.min() < 0 or lab.max() >= num_classes):
            raise ValueError(
                f'gt_label {lab.tolist()} of sample {i} is outside [0, '
                f'{num_classes}); does num_classes match the dataset?')
        out[i, lab.to(out.device)] = 1
    return out


@MODELS.register_module()
class MultiLabelClassifier(BaseModel):
    """Backbone (any mmdet backbone; the last output is used) -> global
    average pooling -> optional neck (e.g. ``PFC``) -> ``fc_cls``.

    Modes: ``'loss'`` -> ``dict(loss_cls=...)``; ``'predict'`` -> the input
    samples with ``pred_score`` (sigmoid, [C]) and ``pred_logit``;
    ``'tensor'`` -> logits [B, C]. Scores use the raw logits: the NTR bias
    of ``DistributionBalancedLoss`` is loss-only.

    Args:
        backbone (dict): backbone config (mmdet ``ResNet`` ...).
        num_classes (int): C.
        in_channels (int): input width of ``fc_cls`` (the neck's output, or
            the backbone's last stage without a neck).
        neck (dict, optional): e.g. ``dict(type='PFC', in_channels=2048,
            out_channels=256, dropout=0.5)``.
        loss_cls (dict): the loss, ``cls_score, label`` convention with a
            multi-hot ``label`` (default: ``DistributionBalancedLoss``).
        data_preprocessor (dict, optional): e.g. ``ImgDataPreprocessor``.
        init_cfg (dict, optional): the classifier starts as N(0, 0.01) with
            zero bias unless set.
    """

    def __init__(self,
                 backbone: dict,
                 num_classes: int,
                 in_channels: int,
                 neck: Optional[dict] = None,
                 loss_cls: dict = dict(type='DistributionBalancedLoss'),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.num_classes = int(num_classes)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.fc_cls = nn.Linear(in_channels, self.num_classes)
        loss_cls = dict(loss_cls)
        if str(loss_cls.get('type', '')).endswith('DistributionBalancedLoss'):
            # checked against its statistics (or used without them)
            loss_cls.setdefault('num_classes', self.num_classes)
        self.loss_cls = MODELS.build(loss_cls)
        loss_classes = getattr(self.loss_cls, 'num_classes', None)
        if loss_classes is not None and loss_classes != self.num_classes:
            raise ValueError(
                f'MultiLabelClassifier: num_classes={self.num_classes} but '
                f'loss_cls has statistics of {loss_classes} classes; give '
                'the loss the statistics of the training set of this model')

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            nn.init.normal_(self.fc_cls.weight, 0, 0.01)
            nn.init.constant_(self.fc_cls.bias, 0)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        x = self.backbone(inputs)
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if x.dim() == 4:
            x = x.mean((2, 3))
        if self.neck is not None:
            x = self.neck(x)
        return x

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], list,
                                               Tensor]:
        logits = self.fc_cls(self.extract_feat(inputs))
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = multi_hot(data_samples, self.num_classes,
                               logits.device)
            return dict(loss_cls=self.loss_cls(logits, labels))
        if mode == 'predict':
            scores = logits.sigmoid()
            if data_samples is None:
                data_samples = [BaseDataElement() for _ in range(len(logits))]
            for s, z, p in zip(data_samples, logits.detach(),
                               scores.detach()):
                s.pred_logit = z
                s.pred_score = p
            return data_samples
        raise ValueError(f'invalid mode {mode!r}; use loss/predict/tensor')
