"""Checkpoint loading that works with mmengine 0.10.x under torch >= 2.6.

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``. mmengine
0.10.7 calls ``torch.load(filename, map_location=...)`` for local files, and its
checkpoints hold ``meta`` entries (numpy scalars, ``HistoryBuffer`` objects in
the message hub) that the weights-only unpickler refuses, so ``load_from``
and ``--resume`` die with ``UnpicklingError: Weights only load failed``.

mmlt re-registers the loader of local paths in mmengine's own
``CheckpointLoader`` scheme table, so every mmengine code path (``load_from``,
``resume``, ``load_checkpoint``) goes through it. Local checkpoints are the
user's own training outputs, which is why full unpickling is acceptable here;
do not point ``load_from`` at files you do not trust.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader

_INSTALLED = False


def load_local_checkpoint(filename, map_location=None):
    """Load a local checkpoint with full unpickling (see module docstring)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def install_checkpoint_fix():
    """Make mmengine load local checkpoints under torch >= 2.6 (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    _INSTALLED = True
