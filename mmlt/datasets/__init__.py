from .class_stats import (AnnotationError, ClassStats,
                          ClassStatsMismatchWarning, get_class_stats,
                          lvis_groups_from_counts)
from .lvis import LongTailLVISDataset, build_label_csr
from .rfs import RepeatFactorDataset, compute_repeat_factors, dataset_label_csr

__all__ = [
    'AnnotationError', 'ClassStats', 'ClassStatsMismatchWarning',
    'get_class_stats', 'lvis_groups_from_counts', 'LongTailLVISDataset',
    'build_label_csr', 'RepeatFactorDataset', 'compute_repeat_factors',
    'dataset_label_csr'
]
from .subset import ClassSubsetDataset  # noqa: E402,F401
from .class_aware import ClassAwareDataset  # noqa: E402,F401
from .coco_json import CocoJsonClassesDataset  # noqa: E402,F401
from .multilabel import (MultiLabelCocoDataset, MultiLabelDataset,  # noqa: E402,F401
                         MultiLabelVOCDataset)
from . import transforms  # noqa: E402,F401
