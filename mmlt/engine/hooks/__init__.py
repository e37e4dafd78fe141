from .dataset_hooks import (NumClassesCheckHook, NumClassesMismatchError,
                            RepeatFactorEpochHook, find_datasets)

__all__ = [
    'NumClassesCheckHook', 'NumClassesMismatchError', 'RepeatFactorEpochHook',
    'find_datasets'
]
