"""RoI heads."""
from .ncm_bbox_head import NCMBBoxHead  # noqa: F401
from .norm_mask_head import CosineConv1x1, FCNNormMaskHead  # noqa: F401
from .loce_roi_head import LoceRoIHead  # noqa: F401
