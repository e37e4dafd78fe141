"""Hooks that keep datasets and models consistent during a run."""
import warnings
from typing import Iterator, List, Optional

from mmengine.hooks import Hook

from mmdet.registry import HOOKS

__all__ = [
    'RepeatFactorEpochHook', 'NumClassesCheckHook', 'find_datasets',
    'NumClassesMismatchError'
]


def find_datasets(dataset, cls) -> List:
    """All instances of ``cls`` in ``dataset`` and its nested wrappers
    (``.dataset`` / ``.datasets``), outermost first."""
    found, stack, seen = [], [dataset], set()
    while stack:
        d = stack.pop(0)
        if d is None or id(d) in seen:
            continue
        seen.add(id(d))
        if isinstance(d, cls):
            found.append(d)
        inner = getattr(d, 'dataset', None)
        if inner is not None:
            stack.append(inner)
        stack.extend(getattr(d, 'datasets', None) or [])
    return found


def _rfs_datasets(runner) -> List:
    # every wrapper with a per-epoch table: RepeatFactorDataset,
    # ClassAwareDataset
    from mmlt.datasets.rfs import EpochIndexedDataset
    loader = runner.train_dataloader
    return find_datasets(getattr(loader, 'dataset', None), EpochIndexedDataset)


def _warn_if_shuffled(runner, datasets) -> None:
    """Class-aware order only holds when the sampler reads it in order."""
    from mmlt.datasets.class_aware import ClassAwareDataset
    cas = [d for d in datasets if isinstance(d, ClassAwareDataset)]
    sampler = _sampler(runner.train_dataloader)
    if cas and getattr(sampler, 'shuffle', False):
        warnings.warn(
            'ClassAwareDataset is read through a shuffling sampler, which '
            'breaks its class round-robin order (the class balance of the '
            'epoch is kept); set train_dataloader.sampler=dict('
            "type='DefaultSampler', shuffle=False)")


def _warn_if_racing(runner, datasets) -> None:
    """With an InfiniteSampler the table switches while workers prefetch:
    which batches still use the old table depends on timing."""
    from mmengine.dataset import InfiniteSampler
    loader = runner.train_dataloader
    changing = [d for d in datasets if not d._static_table]
    if changing and isinstance(_sampler(loader), InfiniteSampler) and \
            (getattr(loader, 'num_workers', 0) or 0) > 0:
        warnings.warn(
            f'{type(changing[0]).__name__} redraws its table every data epoch,'
            ' but with an InfiniteSampler and loader workers the switch races '
            'the workers\' prefetching, so runs (and --resume) are not '
            "reproducible; use sampler=dict(type='DefaultSampler') (the "
            'loader restarts at each data epoch, and the table switches '
            "before it), or RepeatFactorDataset(rounding='ceil')")


def _sampler(loader):
    sampler = getattr(loader, 'sampler', None)
    if sampler is None or not hasattr(sampler, 'set_epoch'):
        batch_sampler = getattr(loader, 'batch_sampler', None)
        sampler = getattr(batch_sampler, 'sampler', sampler)
    return sampler


@HOOKS.register_module()
class RepeatFactorEpochHook(Hook):
    """Tell every ``RepeatFactorDataset`` / ``ClassAwareDataset`` (any
    ``EpochIndexedDataset``) in the train loader the epoch. Also registered
    as ``DatasetEpochHook``.

    Epoch-based loops: ``set_epoch(runner.epoch)`` in ``before_train_epoch``
    (before the loader's iterator is created, so persistent workers see it).

    Iteration-based loops run one "big epoch":

    * finite samplers: mmengine's ``_InfiniteDataloaderIterator`` calls
      ``sampler.set_epoch(e)`` right before restarting the loader; the hook
      wraps that method (in ``before_train``) so the datasets switch at the
      same moment, before workers prefetch.  ``before_train_iter`` also
      compares the iterator's ``_epoch`` as a fallback.
    * ``InfiniteSampler`` never restarts; the data epoch is taken as
      ``iter * batch_size * world_size // len(dataset)`` in
      ``before_train_iter`` (batches already prefetched by workers still
      come from the previous table).
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self._warned = False
        self._last: Optional[int] = None

    def _set(self, runner, epoch: int) -> None:
        for d in _rfs_datasets(runner):
            d.set_epoch(epoch)
        self._last = epoch

    def before_train(self, runner) -> None:
        datasets = _rfs_datasets(runner)
        if not datasets:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    'RepeatFactorEpochHook: no RepeatFactorDataset (or '
                    'ClassAwareDataset) in train_dataloader.dataset; the hook '
                    'does nothing (remove it or wrap the dataset with '
                    'type="RepeatFactorDataset")')
            return
        _warn_if_shuffled(runner, datasets)
        _warn_if_racing(runner, datasets)
        loop = getattr(runner, 'train_loop', None)
        if getattr(loop, 'dataloader_iterator', None) is not None:
            self._follow_sampler(runner)

    def _follow_sampler(self, runner) -> None:
        from mmengine.dataset import InfiniteSampler
        sampler = _sampler(runner.train_dataloader)
        if sampler is None or isinstance(sampler, InfiniteSampler) or \
                not hasattr(sampler, 'set_epoch') or \
                getattr(sampler, '_mmlt_rfs_follow', False):
            return
        orig = sampler.set_epoch
        hook = self

        def set_epoch(epoch, *args, **kwargs):
            orig(epoch, *args, **kwargs)
            hook._set(runner, int(epoch))

        sampler.set_epoch = set_epoch
        sampler._mmlt_rfs_follow = True

    def before_train_epoch(self, runner) -> None:
        self._set(runner, int(runner.epoch))

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        loop = getattr(runner, 'train_loop', None)
        it = getattr(loop, 'dataloader_iterator', None)
        if it is None:  # epoch-based: handled in before_train_epoch
            return
        epoch = self._iter_loop_epoch(runner, it)
        if epoch is not None and epoch != self._last:
            self._set(runner, epoch)

    @staticmethod
    def _iter_loop_epoch(runner, iterator) -> Optional[int]:
        from mmengine.dataset import InfiniteSampler
        loader = runner.train_dataloader
        sampler = _sampler(loader)
        if isinstance(sampler, InfiniteSampler):
            n = len(loader.dataset)
            if n == 0:
                return None
            world = getattr(sampler, 'world_size', 1)
            per_iter = (getattr(loader, 'batch_size', None) or 1) * world
            return int(runner.iter) * per_iter // n
        epoch = getattr(iterator, '_epoch', None)
        if epoch is None:
            epoch = getattr(sampler, 'epoch', None)
        return None if epoch is None else int(epoch)


HOOKS.register_module(name='DatasetEpochHook', module=RepeatFactorEpochHook)


class NumClassesMismatchError(ValueError):
    """A head's ``num_classes`` differs from the dataset's class count."""


def _named_heads(model) -> Iterator:
    from mmcv.cnn import VGG
    try:
        from mmdet.models.roi_heads.mask_heads import FusedSemanticHead
        skip = (VGG, FusedSemanticHead)
    except ImportError:  # pragma: no cover
        skip = (VGG, )
    for name, module in model.named_modules():
        n = getattr(module, 'num_classes', None)
        if not isinstance(n, int) or isinstance(n, bool):
            continue
        # RPN heads (and their children) are class-agnostic; semantic heads
        # count stuff classes
        if any(p.endswith('rpn_head') for p in name.split('.')) \
                or 'RPN' in type(module).__name__ or isinstance(module, skip):
            continue
        yield name, module, n


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Check every head's ``num_classes`` against the dataset's classes
    before train, val and test, raising :class:`NumClassesMismatchError`
    with the config key to fix (e.g. ``model.roi_head.bbox_head.num_classes
    =60``).  Like mmdet's ``NumClassCheckHook`` but not an assert, skipping
    RPN heads, VGG and fused semantic heads."""

    priority = 'VERY_HIGH'

    def _check(self, runner, split: str) -> None:
        loader = getattr(runner, f'{split}_dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        if dataset is None:
            return
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        ds_name = type(dataset).__name__
        if classes is None:
            runner.logger.warning(
                f'NumClassesCheckHook: the {split} dataset {ds_name} has no '
                "metainfo['classes']; cannot check the heads' num_classes")
            return
        if isinstance(classes, str):
            raise NumClassesMismatchError(
                f"metainfo['classes'] of the {split} dataset {ds_name} is "
                f'the string {classes!r}; use a tuple, e.g. ({classes!r},)')
        model = runner.model
        model = getattr(model, 'module', model)  # DDP / MMDistributed
        k = len(classes)
        bad = [(name, m, n) for name, m, n in _named_heads(model) if n != k]
        if bad:
            lines = '\n'.join(
                f'  {name} ({type(m).__name__}): num_classes={n} -> set '
                f'`model.{name}.num_classes={k}`' for name, m, n in bad)
            raise NumClassesMismatchError(
                f'{len(bad)} head(s) of {type(model).__name__} disagree with '
                f'the {split} dataset {ds_name}, which has {k} classes:\n'
                f'{lines}\nFix the config (or --cfg-options), or the '
                "dataset's ann_file/metainfo if it is the wrong one.")

    def before_train(self, runner) -> None:
        self._check(runner, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, 'test')
