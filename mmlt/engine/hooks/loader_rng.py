"""Data-loader randomness that does not depend on where a run started.

Two things make a resumed run's data differ from an uninterrupted one's
when the loader has worker processes:

* persistent workers are seeded once (mmengine's ``worker_init_fn``:
  ``num_workers * rank + worker_id + seed``) and carry their numpy /
  python / torch RNG streams from epoch to epoch, so a resumed run, whose
  workers start fresh in epoch ``e``, flips (crops, resizes...) differently
  from the uninterrupted run's workers, which have consumed epochs
  ``0..e-1``;
* every new DataLoader iterator draws its ``base_seed`` from torch's global
  generator (``torch.empty(()).random_()``), so creating the persistent
  iterator in epoch ``e`` instead of epoch 0, or a validation loader's
  iterator, shifts the main process's torch stream (RPN / RoI sampling).

:class:`EpochSeededWorkerInit` reseeds each worker at the first batch of
every epoch from ``(worker seed, epoch)``, and :func:`private_generator`
gives a loader its own generator for ``base_seed``. Both are installed by
:class:`~mmlt.engine.hooks.RNGStateHook`.
"""
import random
from functools import partial
from typing import Callable, Optional

import numpy as np
import torch
from torch.utils.data import get_worker_info

__all__ = [
    'EpochSeededWorkerInit', 'epoch_worker_seed', 'seed_worker_rngs',
    'private_generator', 'mix_seed'
]


def mix_seed(*values: int) -> int:
    """A 63-bit seed from integers (``np.random.SeedSequence``)."""
    words = np.random.SeedSequence([int(v) % 2**32 for v in values]
                                   ).generate_state(2, dtype=np.uint32)
    return int(words[0]) | (int(words[1] & 0x7FFFFFFF) << 32)


def epoch_worker_seed(worker_seed: int, epoch: int) -> int:
    """The seed of a worker in ``epoch``.

    Epoch 0 keeps mmengine's worker seed, so the first epoch (and a run
    that never changes epoch) loads exactly what mmengine would; later
    epochs get a seed mixed from (worker seed, epoch), < 2**32 for numpy.
    """
    if epoch == 0:
        return int(worker_seed)
    return mix_seed(worker_seed, epoch) % 2**32


def seed_worker_rngs(seed: int) -> None:
    """Seed numpy's, python's and torch's global RNGs as mmengine's
    ``worker_init_fn`` does."""
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)


class EpochSeededWorkerInit:
    """``worker_init_fn`` that reseeds the worker at every epoch change.

    Runs the loader's original ``worker_init_fn`` (mmengine's seeding), then
    wraps the worker's copy of the dataset so that the first batch the
    worker fetches in epoch ``e`` (read from the shared-memory tensor
    ``epoch``, set by the hook before the epoch's iterator is created)
    first seeds the worker's numpy/python/torch RNGs with
    ``epoch_worker_seed(num_workers * rank + worker_id + seed, e)``. The
    worker's draws in epoch ``e`` are then a function of (seed, rank,
    worker id, epoch) and of the batches torch assigns to it (round-robin
    from worker 0, reset every epoch), not of how many epochs the process
    has run: persistent and non-persistent workers, fresh and resumed runs
    load the same data.

    The wrapper is the worker-local ``dataset.__getitems__`` that torch's
    map-style fetcher calls with each batch's indices (an instance
    attribute, in the worker process only).
    """

    def __init__(self, orig: Optional[Callable], epoch: torch.Tensor,
                 seed: int, rank: int, num_workers: int) -> None:
        self.orig = orig
        self.epoch = epoch
        self.seed = int(seed)
        self.rank = int(rank)
        self.num_workers = int(num_workers)

    def __call__(self, worker_id: int) -> None:
        if self.orig is not None:
            self.orig(worker_id)
        info = get_worker_info()
        if info is None:  # called outside a worker: nothing to wrap
            return
        dataset = info.dataset
        worker_seed = self.num_workers * self.rank + worker_id + self.seed
        inner = getattr(dataset, '__getitems__', None)
        shared, seen = self.epoch, [None]

        def getitems(indices):
            epoch = int(shared[0])
            if epoch != seen[0]:
                seed_worker_rngs(epoch_worker_seed(worker_seed, epoch))
                seen[0] = epoch
            if inner is not None:
                return inner(indices)
            return [dataset[i] for i in indices]

        dataset.__getitems__ = getitems


def default_worker_seed_args(loader, seed: int, rank: int):
    """(seed, rank, num_workers) of the loader's workers: the keywords of
    mmengine's default ``worker_init_fn`` partial when that is what the
    loader has, else the runner's."""
    fn = loader.worker_init_fn
    if isinstance(fn, partial):
        kw = fn.keywords
        if {'seed', 'rank', 'num_workers'} <= set(kw) and \
                kw['seed'] is not None:
            return int(kw['seed']), int(kw['rank']), int(kw['num_workers'])
    return int(seed), int(rank), int(loader.num_workers)


def private_generator(loader, seed: int) -> torch.Generator:
    """Give ``loader`` its own generator (seeded with ``seed``) for the
    ``base_seed`` each new iterator draws, instead of torch's global one.
    mmengine passes its own samplers, so the loader's generator feeds
    nothing else."""
    gen = loader.generator
    if not isinstance(gen, torch.Generator) or \
            not getattr(loader, '_mmlt_private_generator', False):
        gen = torch.Generator()
        loader.generator = gen
        loader._mmlt_private_generator = True
    gen.manual_seed(int(seed))
    return gen
