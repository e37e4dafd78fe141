from .dataset_hooks import (NumClassesCheckHook, NumClassesMismatchError,
                            RepeatFactorEpochHook, find_datasets)
from .loss_state_hook import LossStateLoggerHook
from .rng_hook import RNGStateHook

__all__ = [
    'NumClassesCheckHook', 'NumClassesMismatchError', 'RepeatFactorEpochHook',
    'find_datasets', 'RNGStateHook', 'LossStateLoggerHook'
]
