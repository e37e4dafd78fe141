"""The toy DB-Focal config (class-aware sampling, DistributionBalancedLoss,
MultiLabelMetric) trains a few iterations with 2 gloo processes through
tools/dist_train.sh, validates, and tools/dist_test.sh evaluates the
checkpoint (~40 s on 2 cores)."""
import os.path as osp

import pytest

from conftest import PY, ROOT, run_tool

CONFIG = osp.join(ROOT, 'configs/toy/db/db_focal.py')


def opts(root):
    root = root.rstrip('/') + '/'
    ann = root + 'annotations/lvis_v1_train.json'
    return ['--cfg-options',
            f'train_dataloader.dataset.dataset.data_root={root}',
            'train_dataloader.dataset.num_samples=64',  # 2 iterations/rank
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            'val_dataloader.dataset.indices=32',
            'test_dataloader.dataset.indices=32',
            f'model.loss_cls.ann_file={ann}',
            f'val_evaluator.train_ann_file={ann}',
            f'test_evaluator.train_ann_file={ann}',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']


@pytest.mark.dist
def test_db_focal_dist_train_and_test_gloo(toy_lvis_root, tmp_path):
    work = str(tmp_path / 'work')
    env = {'PORT': '29671', 'OMP_NUM_THREADS': '1', 'PYTHON': PY}
    train = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2',
                      '--work-dir', work] + opts(toy_lvis_root), env=env,
                     timeout=600)
    log = train.stdout + train.stderr
    assert 'ClassAwareDataset' in log and '64 samples/epoch' in log
    assert 'Epoch(train) [1][2/2]' in log  # 64 / (2 ranks x 16) iterations
    assert 'multilabel/mAP_tail' in log
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    env['PORT'] = '29672'
    test = run_tool(['bash', 'tools/dist_test.sh', CONFIG,
                     osp.join(work, 'epoch_1.pth'), '2', '--work-dir',
                     work] + opts(toy_lvis_root), env=env, timeout=600)
    out = test.stdout + test.stderr
    assert 'multilabel/mAP' in out and 'micro-F1' in out


def test_real_db_configs_keep_the_original_batch():
    """The documented command (dist_train.sh CONFIG 8) trains 8 x 4 = the
    original's 1 GPU x 32 images per step, with the neck's BatchNorm
    synchronised over them; seed 1 as the original's tools/train.py; VOC
    labels with difficult objects as the original's XMLDataset."""
    import glob

    from mmengine.config import Config
    configs = sorted(glob.glob(osp.join(ROOT, 'configs/db/*.py')))
    assert len(configs) == 12
    for path in configs:
        cfg = Config.fromfile(path)
        bs = cfg.train_dataloader.batch_size
        assert (bs, cfg.auto_scale_lr.base_batch_size) == (4, 32), path
        assert cfg.sync_bn == 'torch' and cfg.randomness.seed == 1, path
        assert cfg.train_dataloader.drop_last, path
        if 'voc-mlt' in path:
            leaf = cfg.train_dataloader.dataset
            leaf = leaf.get('dataset', leaf)
            assert leaf.with_difficult, path
            assert cfg.test_dataloader.dataset.with_difficult, path
