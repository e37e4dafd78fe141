from .eql import EqualizationLoss
from .eqlv2 import EqualizationLossV2

__all__ = ['EqualizationLoss', 'EqualizationLossV2']
from .reweight_ce import ClassWeightedCrossEntropyLoss  # noqa: E402
from .softmax_focal import SoftmaxFocalLoss  # noqa: E402
__all__ += ['ClassWeightedCrossEntropyLoss', 'SoftmaxFocalLoss']
from .group_softmax import GroupSoftmaxLoss  # noqa: E402
__all__ += ['GroupSoftmaxLoss']
from .equilibrium import EquilibriumLoss  # noqa: E402
__all__ += ['EquilibriumLoss']
from .efl import EqualizedFocalLoss, EqualizedQualityFocalLoss  # noqa: E402
__all__ += ['EqualizedFocalLoss', 'EqualizedQualityFocalLoss']
from .db_loss import DistributionBalancedLoss  # noqa: E402
__all__ += ['DistributionBalancedLoss']
