"""The "PFC" neck of the Distribution-Balanced loss classifier: a fully
connected projection of the pooled backbone feature, then BatchNorm and
dropout (``mllt/models/necks/pfc.py`` of the original)."""
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS

__all__ = ['PFC']


@MODELS.register_module()
class PFC(BaseModule):
    """fc(in -> out) -> BN1d -> dropout [-> fc(out -> out) -> BN -> dropout]
    [-> LeakyReLU(0.2)].

    Takes pooled features [B, in_channels] (a 4-D map is average-pooled
    first, as the original's neck did itself). The fc weight is
    Kaiming-normal (fan_out), biases 0, BN weight 1 (the original's
    ``init_weights``).

    Args:
        in_channels (int): backbone channels (2048 for ResNet-50).
        out_channels (int): 256 in the DB configs.
        dropout (float): 0.5 in the DB configs; 0 disables it.
        layers (int): 1, or 2 for a second fc -> BN (-> dropout) block
            (the original reuses the first BN there; mmlt has its own).
        relu (bool): LeakyReLU(0.2) at the end.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 256,
                 dropout: float = 0.5,
                 layers: int = 1,
                 relu: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if layers not in (1, 2):
            raise ValueError(f'PFC: layers must be 1 or 2, got {layers}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.fc = nn.Linear(in_channels, out_channels)
        self.bn = nn.BatchNorm1d(out_channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if layers == 2:
            self.fc2 = nn.Linear(out_channels, out_channels)
            self.bn2 = nn.BatchNorm1d(out_channels)
        self.layers = layers
        self.act = nn.LeakyReLU(0.2, inplace=True) if relu else None

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is not None:
            return
        for fc in [self.fc] + ([self.fc2] if self.layers == 2 else []):
            nn.init.kaiming_normal_(fc.weight, mode='fan_out')
            nn.init.constant_(fc.bias, 0)
        for bn in [self.bn] + ([self.bn2] if self.layers == 2 else []):
            nn.init.constant_(bn.weight, 1)
            nn.init.constant_(bn.bias, 0)

    def forward(self, x) -> Tensor:
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if x.dim() == 4:
            x = x.mean((2, 3))
        x = self.drop(self.bn(self.fc(x)))
        if self.layers == 2:
            x = self.drop(self.bn2(self.fc2(x)))
        if self.act is not None:
            x = self.act(x)
        return x
