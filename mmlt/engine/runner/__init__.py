from .decoupled_runner import DECOUPLED_KEYS, DecoupledRunner
from .freeze import (FreezeError, compile_patterns, freeze_by_patterns,
                     is_eval_locked, lock_eval_mode, split_by_patterns,
                     summarize_names)

__all__ = [
    'DecoupledRunner', 'DECOUPLED_KEYS', 'FreezeError', 'compile_patterns',
    'freeze_by_patterns', 'is_eval_locked', 'lock_eval_mode',
    'split_by_patterns', 'summarize_names'
]
