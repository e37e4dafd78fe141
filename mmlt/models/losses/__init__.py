from .eql import EqualizationLoss
from .eqlv2 import EqualizationLossV2

__all__ = ['EqualizationLoss', 'EqualizationLossV2']
