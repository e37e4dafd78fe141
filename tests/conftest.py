import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOY_CONFIG = osp.join(ROOT, 'configs/toy/mask-rcnn_r18_fpn_toy_ce.py')


@pytest.fixture(autouse=True)
def _mmdet_default_scope():
    """Every test starts in the 'mmdet' registry scope, as mmdet's tools
    do: a Runner built by an earlier test leaves mmengine's process-wide
    current scope at whatever it was built with, and bare-name builds
    (`MODELS.build(dict(type='Shared2FCBBoxHead'))`) would then depend on
    test order."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    yield


@pytest.fixture(scope='session')
def toy_lvis_root(tmp_path_factory):
    """The embedded toy LVIS set at its default size, generated once."""
    from mmlt.datasets.toy_lvis import make_toy_lvis
    root = tmp_path_factory.mktemp('toy_lvis')
    make_toy_lvis(str(root), seed=0, progress=False)
    return str(root)


def run_tool(args, env=None, timeout=900, cwd=ROOT):
    """Run a repo tool in a subprocess; return CompletedProcess, raise with
    the tail of its output on failure."""
    full_env = dict(os.environ)
    full_env.setdefault('OMP_NUM_THREADS', '2')
    full_env.update(env or {})
    proc = subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(args)} exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-6000:]}\n'
            f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


PY = sys.executable


def toy_cfg_options(root, n_train=8, n_val=8, epochs=1, extra=()):
    """--cfg-options that point the toy config at ``root`` and shrink it."""
    root = root.rstrip('/') + '/'
    opts = [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/lvis_v1_val.json',
        f'test_evaluator.ann_file={root}annotations/lvis_v1_val.json',
        f'train_dataloader.dataset.indices={n_train}',
        f'val_dataloader.dataset.indices={n_val}',
        f'test_dataloader.dataset.indices={n_val}',
        f'train_cfg.max_epochs={epochs}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
    ]
    return ['--cfg-options'] + opts + list(extra)
