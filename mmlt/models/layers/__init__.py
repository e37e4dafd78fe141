"""Classifier layers and label mappings."""
from .lws import LWSLinear  # noqa: F401
from .label_mapping import GroupSoftmaxLabelMapping  # noqa: F401
from .tau_norm import tau_normalize  # noqa: F401
from .memory_bank import FeatureMemoryBank, generate_memory_items, jitter_boxes  # noqa: F401,E501
from .mean_score import MeanScoreTracker, group_mean_scores, sampled_gt_group_ids  # noqa: F401,E501
