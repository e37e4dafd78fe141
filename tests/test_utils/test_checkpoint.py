"""mmengine 0.10.x + torch >= 2.6: local checkpoints with non-tensor meta
must load through mmengine's own entry points once mmlt is imported."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        load_checkpoint, save_checkpoint)

import mmlt  # noqa: F401


def _checkpoint_with_meta(path):
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.arange(6.).view(2, 3))
    meta = dict(
        epoch=3,
        np_value=np.float64(0.5),
        np_array=np.arange(4),
        message_hub=dict(log_scalars={'loss': HistoryBuffer([1.0, 2.0], [1, 1])}))
    save_checkpoint(dict(state_dict=model.state_dict(), meta=meta), str(path))
    return model


def test_plain_torch_load_refuses_mmengine_meta(tmp_path):
    # The failure mmlt fixes: torch's weights-only default rejects the meta.
    path = tmp_path / 'ckpt.pth'
    _checkpoint_with_meta(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(str(path))


def test_mmengine_loads_after_fix(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _checkpoint_with_meta(path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['epoch'] == 3
    assert ckpt['meta']['np_value'] == 0.5
    assert list(ckpt['meta']['message_hub']['log_scalars']['loss'].data[0]) \
        == [1.0, 2.0]
    target = torch.nn.Linear(3, 2)
    load_checkpoint(target, str(path), map_location='cpu')
    assert torch.equal(target.weight, torch.arange(6.).view(2, 3))


def test_local_scheme_is_mmlt_loader():
    from mmlt.utils.checkpoint import load_local_checkpoint
    assert CheckpointLoader._get_checkpoint_loader('/x/y.pth') \
        is load_local_checkpoint


def test_missing_checkpoint_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))
