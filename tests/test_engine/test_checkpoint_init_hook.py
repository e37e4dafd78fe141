"""CheckpointInitHook: start from a checkpoint of another label set (COCO
-> LVIS) with the class-count layers re-initialised, loudly."""
import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from mmlt.engine.hooks.checkpoint_init_hook import (CheckpointInitError,
                                                    CheckpointInitHook,
                                                    filter_init_state)

REINIT = [r'roi_head\.bbox_head\.fc_(cls|reg)\.',
          r'roi_head\.mask_head\.conv_logits\.']


class Head(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.shared = nn.Linear(8, 8)
        self.fc_cls = nn.Linear(8, c + 1)
        self.fc_reg = nn.Linear(8, 4 * c)


class MaskHead(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3)
        self.conv_logits = nn.Conv2d(4, c, 1)


class Det(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.roi_head = nn.Module()
        self.roi_head.bbox_head = Head(c)
        self.roi_head.mask_head = MaskHead(c)


def coco_ckpt(tmp_path, extra=None, remove=None):
    state = Det(80).state_dict()  # the COCO (80-class) shapes
    for v in state.values():
        if v.is_floating_point():
            v.fill_(0.5)
    state.update(extra or {})
    for k in remove or []:
        state.pop(k)
    path = tmp_path / 'coco.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    return str(path)


class FakeRunner:

    def __init__(self, model, loaded=False):
        self.model = model
        self._has_loaded = loaded
        self.iter = self.epoch = 0
        self.logger = logging.getLogger('test_checkpoint_init_hook')


def test_loads_and_reinits(tmp_path, caplog):
    model = Det(1230)
    fresh = model.roi_head.bbox_head.fc_cls.weight.detach().clone()
    hook = CheckpointInitHook(checkpoint=coco_ckpt(tmp_path), reinit=REINIT)
    with caplog.at_level(logging.INFO):
        hook.before_train(FakeRunner(model))
    assert torch.all(model.backbone[0].weight == 0.5)
    assert torch.all(model.backbone[1].running_mean == 0.5)
    assert torch.all(model.roi_head.bbox_head.shared.weight == 0.5)
    assert torch.equal(model.roi_head.bbox_head.fc_cls.weight, fresh)
    assert not torch.all(model.roi_head.mask_head.conv_logits.weight == 0.5)
    log = caplog.text
    for k in ('roi_head.bbox_head.fc_cls.weight (81, 8)->(1231, 8)',
              'roi_head.bbox_head.fc_reg.bias (320,)->(4920,)',
              'roi_head.mask_head.conv_logits.weight'):
        assert k in log


def test_skipped_when_runner_loaded(tmp_path, caplog):
    model = Det(1230)
    before = model.backbone[0].weight.detach().clone()
    hook = CheckpointInitHook(checkpoint=coco_ckpt(tmp_path), reinit=REINIT)
    with caplog.at_level(logging.INFO):
        hook.before_train(FakeRunner(model, loaded=True))
    assert torch.equal(model.backbone[0].weight, before)
    assert 'not loading' in caplog.text


def test_missing_key_is_an_error(tmp_path):
    hook = CheckpointInitHook(
        checkpoint=coco_ckpt(tmp_path,
                             remove=['roi_head.bbox_head.shared.weight']),
        reinit=REINIT)
    with pytest.raises(CheckpointInitError, match='shared.weight'):
        hook.before_train(FakeRunner(Det(1230)))


def test_unexpected_key_needs_drop(tmp_path):
    extra = {'roi_head.semantic_head.conv.weight': torch.zeros(2, 2)}
    path = coco_ckpt(tmp_path, extra=extra)
    with pytest.raises(CheckpointInitError, match='semantic_head'):
        CheckpointInitHook(checkpoint=path, reinit=REINIT).before_train(
            FakeRunner(Det(1230)))
    CheckpointInitHook(
        checkpoint=path, reinit=REINIT,
        drop=[r'roi_head\.semantic_head\.']).before_train(
            FakeRunner(Det(1230)))


def test_other_shape_outside_reinit_is_an_error(tmp_path):
    # only fc_cls may change shape: fc_reg / conv_logits mismatches fail
    with pytest.raises(CheckpointInitError, match='fc_reg'):
        CheckpointInitHook(
            checkpoint=coco_ckpt(tmp_path),
            reinit=[r'roi_head\.bbox_head\.fc_cls\.',
                    r'roi_head\.mask_head\.conv_logits\.']).before_train(
                FakeRunner(Det(1230)))


def test_same_shape_reinit_key_is_kept():
    own = Det(3).state_dict()
    state = {k: v.clone() for k, v in own.items()}
    kept, reinit, dropped = filter_init_state(state, own, REINIT)
    assert not reinit and not dropped and set(kept) == set(state)


def test_pattern_matching_nothing_is_an_error():
    own = Det(3).state_dict()
    with pytest.raises(CheckpointInitError, match='matches no'):
        filter_init_state(dict(own), own, [r'roi_head\.nothing\.'])
