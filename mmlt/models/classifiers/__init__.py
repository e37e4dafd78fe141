from .multilabel import MultiLabelClassifier

__all__ = ['MultiLabelClassifier']
