"""Optimizer wrapper constructor that only sees trainable parameters."""
import logging
from contextlib import contextmanager

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['TrainableOnlyOptimWrapperConstructor']


class _DropSkipMessages(logging.Filter):
    """Drops mmengine's per-parameter 'X is skipped since its
    requires_grad=False' warnings (thousands in a frozen detector)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return 'is skipped since its requires_grad=False' not in \
            record.getMessage()


@contextmanager
def _quiet_skips():
    logger = MMLogger.get_current_instance()
    flt = _DropSkipMessages()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOnlyOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` restricted to parameters with
    ``requires_grad=True``.

    Frozen parameters are never handed to the optimizer, so momentum/weight
    decay cannot touch them and optimizer state holds only what is trained.
    ``paramwise_cfg`` works as in mmengine (the frozen parameters are
    skipped with one summary line instead of one warning each). Used by
    :class:`mmlt.engine.runner.DecoupledRunner` when the config names no
    ``optim_wrapper.constructor``.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        params = list(model.parameters())
        trainable = [p for p in params if p.requires_grad]
        if not trainable:
            raise ValueError(
                'TrainableOnlyOptimWrapperConstructor: the model has no '
                'parameter with requires_grad=True; check the `trainable` '
                'patterns of the `decoupled` config block')
        if self.paramwise_cfg:
            with _quiet_skips():
                wrapper = super().__call__(model)
        else:
            wrapper = self._build(trainable)
        print_log(
            f'optimizer: {len(trainable)} trainable parameter tensors '
            f'({sum(p.numel() for p in trainable):,} values); '
            f'{len(params) - len(trainable)} frozen tensors left out',
            logger='current',
            level=logging.INFO)
        return wrapper

    def _build(self, params) -> OptimWrapper:
        # mmengine's no-paramwise path, but with the filtered list
        import inspect

        from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cfg['type'])
        # e.g. colossalai's HybridAdam names its first argument model_params
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            optim_wrapper_cfg, default_args=dict(optimizer=optimizer))
