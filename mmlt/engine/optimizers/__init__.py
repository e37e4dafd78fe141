from .trainable_only import TrainableOnlyOptimWrapperConstructor

__all__ = ['TrainableOnlyOptimWrapperConstructor']
