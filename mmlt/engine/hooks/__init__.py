from .checkpoint_init_hook import CheckpointInitHook, CheckpointInitError
from .dataset_hooks import (NumClassesCheckHook, NumClassesMismatchError,
                            RepeatFactorEpochHook, find_datasets)
from .loce_init_hook import MemoryBankInitHook, balanced_image_selection
from .loss_state_hook import LossStateLoggerHook
from .loader_rng import EpochSeededWorkerInit
from .rng_hook import RNGStateHook

__all__ = [
    'NumClassesCheckHook', 'NumClassesMismatchError', 'RepeatFactorEpochHook',
    'find_datasets', 'RNGStateHook', 'LossStateLoggerHook',
    'MemoryBankInitHook', 'CheckpointInitHook', 'CheckpointInitError', 'balanced_image_selection', 'EpochSeededWorkerInit'
]
