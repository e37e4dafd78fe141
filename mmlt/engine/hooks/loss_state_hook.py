"""Log the state of stateful long-tail losses (EQLv2 weights) per group."""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS

__all__ = ['LossStateLoggerHook']


@HOOKS.register_module()
class LossStateLoggerHook(Hook):
    """Every ``interval`` training iterations, put the per-group state of
    every module that has ``group_weight_stats(groups)`` (e.g.
    :class:`~mmlt.models.losses.EqualizationLossV2`) into the message hub as
    ``train/{log_name}_{stat}`` scalars, e.g. ``train/eqlv2_neg_w_r``;
    ``LoggerHook`` prints and writes them to the visualizer backends.

    Keys contain no 'loss', so mmengine's ``LogProcessor`` logs the latest
    value (not a window mean): use the logger's interval here.  With several
    such modules (Cascade R-CNN) the key is ``{log_name}{k}_{stat}`` with
    ``k`` the module's index in ``named_modules`` order.

    Groups, by precedence: ``groups`` (per-class letters or a dict name ->
    label indices), ``stats_file`` / ``ann_file`` (their LVIS r/c/f
    groups), the ``class_stats`` of a dataset in ``train_dataloader``
    (e.g. ``LongTailLVISDataset``), else one group ``all``.

    Args:
        interval (int): logging interval in iterations.
        groups (dict | list[str], optional): see above.
        ann_file, stats_file (str, optional): see above.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) in the same iter

    def __init__(self,
                 interval: int = 50,
                 groups: Optional[Union[Dict[str, Sequence[int]],
                                        Sequence[str]]] = None,
                 ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.groups = groups
        self.ann_file = ann_file
        self.stats_file = stats_file
        self._modules: Optional[List[Tuple[str, object]]] = None
        self._resolved = None
        self._warned = set()

    # ----------------------------------------------------------- helpers
    @staticmethod
    def find_modules(model) -> List[Tuple[str, object]]:
        if is_model_wrapper(model):
            model = model.module
        return [(name, m) for name, m in model.named_modules()
                if callable(getattr(m, 'group_weight_stats', None))]

    def _resolve_groups(self, runner):
        if self.groups is not None:
            return self.groups
        if self.stats_file or self.ann_file:
            from mmlt.datasets.class_stats import get_class_stats
            return get_class_stats(ann_file=self.ann_file,
                                   stats_file=self.stats_file).groups
        from .dataset_hooks import find_datasets
        loader = getattr(runner, 'train_dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        for d in find_datasets(dataset, object):
            try:
                stats = getattr(d, 'class_stats', None)
            except Exception as e:  # stats file missing etc.: log 'all'
                self._warn(
                    'stats', f'LossStateLoggerHook: could not read '
                    f'the class stats of {type(d).__name__} ({e}); '
                    "logging one group 'all'")
                return None
            if stats is not None and hasattr(stats, 'groups'):
                return stats.groups
        return None

    def _warn(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg)

    def _groups_for(self, module) -> Union[dict, Sequence[str]]:
        num = int(getattr(module, 'num_classes'))
        groups = self._resolved
        if groups is not None and not isinstance(groups, dict) and \
                len(groups) != num:
            self._warn(
                'size', f'LossStateLoggerHook: {len(groups)} class groups '
                f'but {type(module).__name__} has {num} classes; logging '
                "one group 'all'")
            groups = None
        return groups if groups is not None else {'all': np.arange(num)}

    # ------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        self._modules = self.find_modules(runner.model)
        if not self._modules:
            self._warn(
                'none', 'LossStateLoggerHook: the model has no module '
                'with group_weight_stats (e.g. EqualizationLossV2); '
                'the hook logs nothing')
        self._resolved = self._resolve_groups(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        if self._modules is None:
            self.before_train(runner)
        several = len(self._modules) > 1
        for k, (_, module) in enumerate(self._modules):
            name = getattr(module, 'log_name', 'lt_state')
            if several:
                name = f'{name}{k}'
            stats = module.group_weight_stats(self._groups_for(module))
            for stat, value in stats.items():
                runner.message_hub.update_scalar(f'train/{name}_{stat}',
                                                 float(value))
