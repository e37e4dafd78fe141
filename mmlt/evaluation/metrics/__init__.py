from .lvis_metric import LongTailLVISMetric

__all__ = ['LongTailLVISMetric']
