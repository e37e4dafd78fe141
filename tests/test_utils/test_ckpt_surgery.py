"""Checkpoint surgery: remove / reset / resize on a hand-made checkpoint,
the command line, and its error messages."""
import importlib.util
import os.path as osp

import pytest
import torch

from mmlt.utils.ckpt_surgery import (CheckpointSurgeryError, ckpt_surgery,
                                     remove_keys, resize_rows)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FC = 'roi_head.bbox_head.fc_cls.'


def _state():
    return {
        FC + 'weight': torch.arange(8.).reshape(4, 2),
        FC + 'bias': torch.tensor([1., 2., 3., 4.]),
        # a Cascade stage and a layer whose name only contains fc_cls
        'roi_head.bbox_head.2.fc_cls.weight': torch.ones(4, 2),
        'roi_head.bbox_head.fc_cls_extra.weight': torch.ones(1),
        'backbone.conv.weight': torch.ones(3),
    }


@pytest.fixture
def ckpt_path(tmp_path):
    path = str(tmp_path / 'in.pth')
    torch.save(
        dict(state_dict=_state(), optimizer=dict(state={}),
             message_hub=dict(x=1), param_schedulers=[], rng_state={},
             meta=dict(epoch=12, iter=9, dataset_meta=dict(classes=('a', )))),
        path)
    return path


def test_remove_default_every_fc_cls(ckpt_path):
    new, lines = ckpt_surgery(ckpt_path, 'remove')
    assert list(new['state_dict']) == [
        'roi_head.bbox_head.fc_cls_extra.weight', 'backbone.conv.weight'
    ]
    assert set(new) == {'state_dict', 'meta'}
    assert new['meta']['dataset_meta'] == dict(classes=('a', ))
    assert 'epoch' not in new['meta']
    assert new['meta']['mmlt_ckpt_surgery']['removed'] == [
        FC + 'weight', FC + 'bias', 'roi_head.bbox_head.2.fc_cls.weight'
    ]
    assert any('optimizer' in line for line in lines)


def test_remove_custom_keys_and_no_match():
    kept, removed = remove_keys(_state(), [r'backbone\.'])
    assert removed == ['backbone.conv.weight'] and len(kept) == 4
    with pytest.raises(CheckpointSurgeryError,
                       match=r'(?s)matches no state-dict key.*fc_cls'):
        remove_keys(_state(), [r'roi_head\.fc_cls\.'])


def test_reset_keeps_weights_strips_state(ckpt_path):
    new, _ = ckpt_surgery(ckpt_path, 'reset')
    for k, v in _state().items():
        assert torch.equal(new['state_dict'][k], v)
    assert set(new) == {'state_dict', 'meta'}
    with pytest.raises(CheckpointSurgeryError, match='--keys'):
        ckpt_surgery(ckpt_path, 'reset', keys=['x'])


def test_resize_grow_and_shrink():
    sd = _state()
    pats = [r'roi_head\.bbox_head\.fc_cls\.']
    grown, changes = resize_rows(sd, 1000, pats, std=0.01, seed=0)
    w, b = grown[FC + 'weight'], grown[FC + 'bias']
    assert changes == {FC + 'weight': (4, 1000), FC + 'bias': (4, 1000)}
    assert torch.equal(w[:4], sd[FC + 'weight'])
    assert torch.equal(b[:4], sd[FC + 'bias'])
    assert torch.equal(b[4:], torch.zeros(996))
    # new rows ~ N(0, 0.01^2): 1992 draws
    assert abs(w[4:].mean().item()) < 0.002
    assert w[4:].std().item() == pytest.approx(0.01, rel=0.1)
    # seeded
    again, _ = resize_rows(sd, 1000, pats, seed=0)
    assert torch.equal(again[FC + 'weight'], w)
    other, _ = resize_rows(sd, 1000, pats, seed=1)
    assert not torch.equal(other[FC + 'weight'], w)
    shrunk, _ = resize_rows(sd, 2, pats)
    assert torch.equal(shrunk[FC + 'weight'], sd[FC + 'weight'][:2])
    assert torch.equal(shrunk[FC + 'bias'], torch.tensor([1., 2.]))
    # the input is not modified
    assert sd[FC + 'weight'].shape == (4, 2)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(CheckpointSurgeryError, match='--num-out'):
            resize_rows(sd, bad, pats)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth does not exist'):
        ckpt_surgery(str(tmp_path / 'nope.pth'), 'remove')
    path = str(tmp_path / 'odd.pth')
    torch.save(dict(model=1), path)
    with pytest.raises(CheckpointSurgeryError, match="no 'state_dict'"):
        ckpt_surgery(path, 'reset')
    # a bare state dict is accepted
    torch.save(_state(), path)
    new, _ = ckpt_surgery(path, 'remove', keys=[r'backbone\.'])
    assert 'backbone.conv.weight' not in new['state_dict']
    with pytest.raises(CheckpointSurgeryError, match='--method must be'):
        ckpt_surgery(path, 'prune')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'ckpt_surgery_tool', osp.join(ROOT, 'tools/misc/ckpt_surgery.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_command_line(ckpt_path, tmp_path, capsys):
    tool = _tool()
    out = str(tmp_path / 'sub' / 'out.pth')
    assert tool.main([ckpt_path, '--method', 'resize', '--num-out', '6',
                      '--keys', r'roi_head\.bbox_head\.fc_cls\.',
                      '--out', out]) == 0
    assert 'resized roi_head.bbox_head.fc_cls.weight: 4 -> 6 rows' in \
        capsys.readouterr().out
    new = torch.load(out, weights_only=False)
    assert new['state_dict'][FC + 'bias'].tolist() == [1, 2, 3, 4, 0, 0]
    assert tool.main([ckpt_path, '--method', 'resize', '--out', out]) == 2
    assert '--num-out' in capsys.readouterr().err
    assert tool.main([ckpt_path, '--method', 'reset', '--out',
                      ckpt_path]) == 2
