"""RoI heads."""
from .ncm_bbox_head import NCMBBoxHead  # noqa: F401
