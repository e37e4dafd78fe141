from .grouped_ap import GroupedAPMetric, grouped_ap
from .lvis_metric import LongTailLVISMetric

__all__ = ['LongTailLVISMetric', 'GroupedAPMetric', 'grouped_ap']
from .multilabel_metric import MultiLabelMetric  # noqa: E402,F401
__all__ += ['MultiLabelMetric']
