from .multilabel import PackMultiLabelInputs, RandomRatioCrop

__all__ = ['PackMultiLabelInputs', 'RandomRatioCrop']
