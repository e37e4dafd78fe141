"""Memory initialisation of LOCE stage 2: fill the feature memory bank (and
warm up the mean score) before training."""
import math
import random
from contextlib import contextmanager
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch.utils.data import DataLoader

from mmdet.registry import HOOKS
from mmlt.utils.dist import all_gather_cat

__all__ = ['MemoryBankInitHook', 'balanced_image_selection']


def balanced_image_selection(cls_offsets: np.ndarray, images: np.ndarray,
                             per_class: int, seed: int) -> np.ndarray:
    """``per_class`` images of every class, class after class.

    Class c draws from its images ``images[cls_offsets[c]:cls_offsets[c +
    1]]`` without replacement while it has enough, else cycles through a
    permutation of them (a class with 2 images and ``per_class=5`` gets
    each 2-3 times: the jitter makes every pass new features).  Classes
    without images are skipped.

    Returns:
        np.ndarray: int64 dataset indices, ``per_class`` per non-empty class.
    """
    rng = np.random.default_rng(seed)
    out: List[np.ndarray] = []
    for c in range(len(cls_offsets) - 1):
        imgs = images[cls_offsets[c]:cls_offsets[c + 1]]
        if not len(imgs):
            continue
        reps = math.ceil(per_class / len(imgs))
        order = np.concatenate([rng.permutation(imgs) for _ in range(reps)])
        out.append(order[:per_class])
    if not out:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(out).astype(np.int64)


@contextmanager
def _seeded_rng(seed: int):
    """Seed torch's CPU, numpy's and python's global RNGs for the block and
    restore their states afterwards, so the training stream is untouched."""
    states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() \
        and torch.cuda.is_initialized() else None
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _innermost(dataset):
    while getattr(dataset, 'dataset', None) is not None:
        dataset = dataset.dataset
    return dataset


@HOOKS.register_module()
class MemoryBankInitHook(Hook):
    """Fill LOCE's memory bank before stage-2 training (``before_train``).

    Every rank selects ``images_per_class`` training images of **every**
    class (:func:`balanced_image_selection`, seed ``seed + rank``: ranks
    see different images, each fills its own bank, as the original's
    ``DistributedBalancedSampler``; default ``queue_size // num_jitter`` =
    5 at LOCE's settings, i.e. 16 x 5 = 80 features per class and rank)
    and runs the training forward (``model(..., mode='loss')``: RPN, sampling, enqueue,
    mean-score update, memory draws) in eval mode without gradients,
    ``batch_size`` images at a time, with a progress bar on rank 0.

    * Fresh start (``load_from`` a stage-1 model): the bank is filled and
      the mean score ``m`` is warmed up on the balanced images, as the
      original.
    * Resume: the bank (not checkpointed) is refilled the same way, but
      ``m`` is left as restored from the checkpoint (its update is switched
      off during the pass).

    The pass runs under its own RNG seed (``seed + rank``, for the image
    selection, the pipeline's random flips, the box jitter and the memory
    draws) and restores the global RNG states afterwards: the refill is
    deterministic given the seed and the world size, and the training RNG
    stream (restored by ``RNGStateHook`` on resume) is not shifted by it.
    A resumed run is still not bit-identical to an uninterrupted one: the
    bank then holds the refill, not the features enqueued during training.

    The number of batches is the same on every rank (the mean-score update
    is a collective): ranks whose selection is shorter repeat their last
    images.  The model is restored to train mode afterwards.

    Args:
        images_per_class (int, optional): per class and rank; default
            ``ceil(queue_size / num_jitter)`` of the head's ``mfs``.
        batch_size (int, optional): images per forward; default the train
            dataloader's batch size.
        num_workers (int): dataloader workers (0: in process).
        seed (int): base seed of the selection.
        max_images (int, optional): at most this many images per rank, a
            random subset of the selection (quick checks such as
            ``tools/misc/smoke_configs.py`` on a CPU; a real run leaves it
            None: the bank then starts with fewer features per class).
    """

    priority = 'LOW'  # after checkpoint loading and the other hooks

    def __init__(self,
                 images_per_class: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 num_workers: int = 0,
                 seed: int = 0,
                 max_images: Optional[int] = None) -> None:
        for name, v in (('images_per_class', images_per_class),
                        ('max_images', max_images)):
            if v is not None and int(v) < 1:
                raise ValueError(f'MemoryBankInitHook: {name} must be >= 1, '
                                 f'got {v}')
        self.max_images = max_images
        self.images_per_class = images_per_class
        self.batch_size = batch_size
        self.num_workers = int(num_workers)
        self.seed = int(seed)

    @staticmethod
    def _roi_head(model):
        from mmlt.models.roi_heads.loce_roi_head import LoceRoIHead
        head = getattr(model, 'roi_head', None)
        if not isinstance(head, LoceRoIHead):
            raise TypeError(
                'MemoryBankInitHook needs model.roi_head of type '
                f"'LoceRoIHead', got {type(head).__name__}; remove the hook "
                'or use the LOCE stage-2 configs')
        return head

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = self._roi_head(model)
        resumed = runner.iter > 0
        rank, world = get_dist_info()

        dataset = _innermost(runner.train_dataloader.dataset)
        from mmlt.datasets.class_aware import class_image_csr
        from mmlt.datasets.rfs import dataset_label_csr
        offsets, labels, num_classes = dataset_label_csr(dataset)
        if num_classes != head.num_classes:
            raise ValueError(
                f'MemoryBankInitHook: the training dataset has {num_classes}'
                f' classes, model.roi_head.bbox_head.num_classes='
                f'{head.num_classes}')
        cls_offsets, images = class_image_csr(offsets, labels, num_classes)
        if self.images_per_class is not None:
            per_class = int(self.images_per_class)
        elif head.with_mfs:
            per_class = math.ceil(head.mfs_cfg.queue_size /
                                  head.mfs_cfg.num_jitter)
        else:
            per_class = 5
        sel = balanced_image_selection(cls_offsets, images, per_class,
                                       self.seed + rank)
        if self.max_images is not None and len(sel) > self.max_images:
            sel = np.sort(np.random.default_rng(self.seed + rank).choice(
                sel, int(self.max_images), replace=False))
        loader = runner.train_dataloader
        # with a batch_sampler (AspectRatioBatchSampler) the loader's own
        # batch_size is None
        batch = int(self.batch_size or loader.batch_size or getattr(
            loader.batch_sampler, 'batch_size', None) or 1)
        # equal batch counts on every rank (m's update is a collective)
        n_batches = math.ceil(len(sel) / batch)
        n_batches = int(all_gather_cat(torch.tensor([n_batches])).max())
        if len(sel) and n_batches * batch > len(sel):
            sel = np.concatenate(
                [sel, np.full(n_batches * batch - len(sel), sel[-1])])
        if not len(sel):
            raise ValueError('MemoryBankInitHook: the training dataset has '
                             'no annotated image')

        loader = DataLoader(
            torch.utils.data.Subset(dataset, sel.tolist()),
            batch_size=batch,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=runner.train_dataloader.collate_fn)
        print_log(
            f'MemoryBankInitHook: {"refilling" if resumed else "filling"} '
            f'the memory bank from {per_class} images x '
            f'{int((np.diff(cls_offsets) > 0).sum())} classes per rank '
            f'({n_batches} batches of {batch}, {world} rank(s))'
            + ('; mean score kept from the checkpoint' if resumed else ''),
            logger='current')

        was_training = model.training
        update = head.update_mean_score
        head.update_mean_score = update and not resumed
        model.eval()
        try:
            from tqdm import tqdm
            with torch.no_grad(), _seeded_rng(self.seed + rank):
                for data in tqdm(
                        loader, total=n_batches, disable=rank != 0,
                        desc='LOCE memory init', leave=False):
                    data = model.data_preprocessor(data, True)
                    model(**data, mode='loss')
        finally:
            head.update_mean_score = update
            model.train(was_training)
        if head.with_mfs:
            s = head.memory_bank.summary()
            print_log(
                f'MemoryBankInitHook: rank {rank}: {s["filled_classes"]}/'
                f'{s["num_classes"]} classes filled, {s["full_classes"]} '
                f'full, {s["stored"]} features', logger='current')
