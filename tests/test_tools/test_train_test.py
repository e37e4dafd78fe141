"""End to end on the embedded toy set, on CPU: train -> checkpoint -> test
with the LVIS table; resume equals an uninterrupted run; 2-process gloo
launch through tools/dist_train.sh and tools/dist_test.sh."""
import glob
import json
import os.path as osp

import pytest
import torch

from conftest import PY, ROOT, TOY_CONFIG, run_tool, toy_cfg_options

EQLV2_CONFIG = osp.join(ROOT, 'configs/toy/mask-rcnn_r18_fpn_toy_eqlv2.py')


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_train_then_test(toy_lvis_root, tmp_path):
    work = str(tmp_path / 'work')
    opts = toy_cfg_options(
        toy_lvis_root, extra=['train_cfg.val_interval=1'])
    train = run_tool([PY, 'tools/train.py', TOY_CONFIG, '--work-dir', work] +
                     opts)
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    # validation ran at the end of the epoch through the mmlt metric
    assert 'APr' in train.stdout + train.stderr

    out_pkl = str(tmp_path / 'preds.pkl')
    test = run_tool([
        PY, 'tools/test.py', TOY_CONFIG, ckpt, '--work-dir', work, '--eval',
        'bbox', 'segm', '--out', out_pkl
    ] + opts)
    log = test.stdout + test.stderr
    for row in ('AP50', 'APr', 'APc', 'APf', 'AR@300'):
        assert row in log
    assert 'lvis/bbox_AP' in log and 'lvis/segm_AP' in log
    assert osp.isfile(out_pkl)
    assert glob.glob(osp.join(work, '**', 'per_class_ap*.png'),
                     recursive=True)
    per_class = glob.glob(
        osp.join(work, '**', 'per_class_ap*.json'), recursive=True)
    assert per_class
    data = json.load(open(per_class[0]))
    assert set(data) >= {'bbox'}


def test_eval_bbox_only(toy_lvis_root, tmp_path):
    """--eval bbox must skip mask evaluation."""
    work = str(tmp_path / 'work')
    opts = toy_cfg_options(toy_lvis_root, n_train=4, n_val=4,
                           extra=['train_cfg.val_interval=100'])
    run_tool([PY, 'tools/train.py', TOY_CONFIG, '--work-dir', work] + opts)
    test = run_tool([
        PY, 'tools/test.py', TOY_CONFIG,
        osp.join(work, 'epoch_1.pth'), '--work-dir', work, '--eval', 'bbox'
    ] + opts)
    log = test.stdout + test.stderr
    assert 'lvis/bbox_AP' in log and 'lvis/segm_AP' not in log


@pytest.mark.parametrize('config', [TOY_CONFIG, EQLV2_CONFIG],
                         ids=['ce', 'eqlv2'])
def test_resume_equals_uninterrupted(toy_lvis_root, tmp_path, config):
    # one process without loader workers: the flips come from the main
    # process's numpy stream, restored by RNGStateHook (workers and 2
    # processes: tests/test_engine/test_exact_resume.py)
    extra = [
        'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=3',
    ]
    opts = toy_cfg_options(toy_lvis_root, n_train=4, epochs=2, extra=extra)
    full = str(tmp_path / 'full')
    run_tool([PY, 'tools/train.py', config, '--work-dir', full] + opts)

    part = str(tmp_path / 'part')
    run_tool([PY, 'tools/train.py', config, '--work-dir', part] +
             toy_cfg_options(toy_lvis_root, n_train=4, epochs=1, extra=extra))
    resumed = run_tool([
        PY, 'tools/train.py', config, '--work-dir', part, '--resume',
        osp.join(part, 'epoch_1.pth')
    ] + opts)
    assert 'resumed epoch: 1' in (resumed.stdout + resumed.stderr).lower() \
        or 'resumed' in (resumed.stdout + resumed.stderr).lower()

    a = _state(osp.join(full, 'epoch_2.pth'))
    b = _state(osp.join(part, 'epoch_2.pth'))
    assert a['meta']['epoch'] == b['meta']['epoch'] == 2
    assert a['meta']['iter'] == b['meta']['iter']
    assert a['state_dict'].keys() == b['state_dict'].keys()
    if config == EQLV2_CONFIG:
        # the gradient statistics are checkpointed state, and they moved
        pos = a['state_dict']['roi_head.bbox_head.loss_cls.pos_grad']
        assert pos.dtype == torch.float64 and (pos > 0).any()
    differ = [k for k in a['state_dict']
              if not torch.equal(a['state_dict'][k], b['state_dict'][k])]
    assert not differ, f'not bit-identical: {differ[:5]}'


@pytest.mark.dist
def test_dist_train_and_test_gloo(toy_lvis_root, tmp_path):
    work = str(tmp_path / 'work')
    opts = toy_cfg_options(
        toy_lvis_root, extra=['train_cfg.val_interval=1',
                              'train_dataloader.batch_size=2'])
    env = {'PORT': '29611', 'OMP_NUM_THREADS': '1', 'PYTHON': PY}
    train = run_tool(['bash', 'tools/dist_train.sh', TOY_CONFIG, '2',
                      '--work-dir', work] + opts, env=env)
    log = train.stdout + train.stderr
    assert 'gloo' in log or 'world_size: 2' in log.lower() \
        or 'world size: 2' in log.lower()
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    env['PORT'] = '29612'
    test = run_tool(['bash', 'tools/dist_test.sh', TOY_CONFIG,
                     osp.join(work, 'epoch_1.pth'), '2', '--work-dir', work,
                     '--eval', 'bbox'] + opts, env=env)
    assert 'lvis/bbox_AP' in test.stdout + test.stderr


def test_train_segm_on_box_model_fails_before_training(toy_lvis_root,
                                                       tmp_path):
    """A box-only model asked to validate masks stops before the first
    iteration (it used to fail with a KeyError at the first validation,
    after a whole epoch)."""
    import subprocess
    config = osp.join(ROOT, 'configs/toy/retinanet_r18_fpn_toy_efl.py')
    work = tmp_path / 'work'
    opts = toy_cfg_options(toy_lvis_root, n_train=4, n_val=4)
    proc = subprocess.run(
        [PY, 'tools/train.py', config, '--work-dir', str(work), '--eval',
         'bbox', 'segm'] + opts, cwd=ROOT, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 1
    assert ('the val metric (LongTailLVISMetric) evaluates '
            "['bbox', 'segm'], but the model (RetinaNet) has no mask head"
            in proc.stderr), proc.stderr[-3000:]
    assert 'use --eval bbox' in proc.stderr
    assert 'Epoch(train)' not in proc.stdout + proc.stderr
    assert not glob.glob(str(work / '*.pth'))
