"""End to end: toy cRT stage 2 (configs/toy/decoupled/crt.py) through
tools/train.py from a stage-1 checkpoint; every weight but fc_cls is
bit-identical to the checkpoint, fc_cls was re-initialised and trained."""
import os.path as osp

import pytest
import torch

from conftest import PY, ROOT, run_tool

CRT_CONFIG = osp.join(ROOT, 'configs/toy/decoupled/crt.py')
FC = 'roi_head.bbox_head.fc_cls.'


def _stage1_checkpoint(path):
    """The toy Mask R-CNN at its init, with an fc_cls no init produces."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmlt  # noqa: F401
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(CRT_CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        model.roi_head.bbox_head.fc_cls.weight.fill_(1.0)
        model.roi_head.bbox_head.fc_cls.bias.fill_(5.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(epoch=5, iter=999)), path)
    return state


def _options(root, ckpt, n_train):
    root = root.rstrip('/') + '/'
    return [
        '--no-validate', '--cfg-options', f'load_from={ckpt}',
        f'train_dataloader.dataset.dataset.data_root={root}',
        f'train_dataloader.dataset.dataset.indices={n_train}',
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1'
    ]


def _check(stage1, out_ckpt, log):
    state = torch.load(out_ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    assert set(state) == set(stage1)
    changed = [k for k in stage1 if not torch.equal(state[k], stage1[k])]
    assert sorted(changed) == [FC + 'bias', FC + 'weight']
    # re-initialised (N(0, 0.01), bias 0) then a few small steps, not the
    # stage-1 values 1.0 / 5.0
    assert state[FC + 'weight'].abs().max() < 0.5
    assert state[FC + 'bias'].abs().max() < 0.5
    assert 'decoupled.reinit dropped 2 keys' in log
    assert 'ClassAwareDataset' in log
    assert '2/' in log and 'parameter tensors trainable' in log


def test_toy_crt_stage2_keeps_frozen_weights(toy_lvis_root, tmp_path):
    ckpt = str(tmp_path / 'stage1.pth')
    stage1 = _stage1_checkpoint(ckpt)
    work = str(tmp_path / 'work')
    proc = run_tool([PY, 'tools/train.py', CRT_CONFIG, '--work-dir', work] +
                    _options(toy_lvis_root, ckpt, 8),
                    env={'OMP_NUM_THREADS': '1'})
    _check(stage1, osp.join(work, 'epoch_1.pth'), proc.stdout + proc.stderr)


@pytest.mark.slow
@pytest.mark.dist
def test_toy_crt_stage2_two_gloo_processes(toy_lvis_root, tmp_path):
    ckpt = str(tmp_path / 'stage1.pth')
    stage1 = _stage1_checkpoint(ckpt)
    work = str(tmp_path / 'work')
    env = {'PORT': '29631', 'OMP_NUM_THREADS': '1', 'PYTHON': PY}
    proc = run_tool(['bash', 'tools/dist_train.sh', CRT_CONFIG, '2',
                     '--work-dir', work] + _options(toy_lvis_root, ckpt, 16),
                    env=env)
    _check(stage1, osp.join(work, 'epoch_1.pth'), proc.stdout + proc.stderr)
