"""MemoryBankInitHook: class-balanced selection; fills the bank and warms up
m on a fresh start; on resume refills the bank deterministically and keeps
the checkpoint's m; the training RNG stream is not shifted."""
import copy
import itertools
import os

import numpy as np
import pytest
import torch

import mmlt  # noqa: F401
from mmlt.datasets.class_aware import class_image_csr
from mmlt.engine.hooks import balanced_image_selection
from mmlt.testing import get_config

_RUN = itertools.count()


# --------------------------------------------------------------- selection
def test_balanced_selection_counts_and_membership():
    # images: 0:{0,1} 1:{0} 2:{1} 3:{} 4:{0,2}; class 3 has no image
    offsets = np.array([0, 2, 3, 4, 4, 6])
    labels = np.array([0, 1, 0, 1, 0, 2])
    cls_off, imgs = class_image_csr(offsets, labels, 4)
    sel = balanced_image_selection(cls_off, imgs, 2, seed=0)
    # 2 per non-empty class, class after class; class 3 skipped
    assert len(sel) == 6
    assert set(sel[0:2]) <= {0, 1, 4} and len(set(sel[0:2])) == 2
    assert set(sel[2:4]) == {0, 2}
    assert list(sel[4:6]) == [4, 4]  # one image, cycled
    # more than the class has: every image used before any repeats
    sel = balanced_image_selection(cls_off, imgs, 5, seed=3)
    first = sel[:5]
    assert sorted(first[:3]) == [0, 1, 4]
    assert set(first[3:]) <= {0, 1, 4}
    assert np.array_equal(sel, balanced_image_selection(cls_off, imgs, 5, 3))


def test_balanced_selection_seed_changes_draw():
    offsets = np.arange(0, 201)  # 200 images, one label each
    labels = np.zeros(200, dtype=np.int64)  # all class 0
    cls_off, imgs = class_image_csr(offsets, labels, 1)
    a = balanced_image_selection(cls_off, imgs, 5, seed=0)
    b = balanced_image_selection(cls_off, imgs, 5, seed=1)
    assert len(set(a)) == 5 and not np.array_equal(a, b)


# ------------------------------------------------------------------ runner
def make_runner(root, work_dir, resume=False, load_from=None, iters=2):
    from mmengine.runner import Runner
    cfg = copy.deepcopy(get_config('toy/loce/ebl_mfs.py'))
    cfg.work_dir = str(work_dir)
    cfg.load_from = load_from
    cfg.resume = resume
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=iters, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_processor = dict(by_epoch=False)
    cfg.custom_hooks = [
        dict(type='RNGStateHook'),
        dict(type='MemoryBankInitHook', images_per_class=1),
    ]
    cfg.experiment_name = f'loce_hook_{os.getpid()}_{next(_RUN)}'
    return Runner.from_cfg(cfg)


def _head(runner):
    model = runner.model
    return getattr(model, 'module', model).roi_head


@pytest.fixture(scope='module')
def first_run(toy_lvis_root, tmp_path_factory):
    wd = tmp_path_factory.mktemp('loce_hook')
    runner = make_runner(toy_lvis_root, wd)
    runner.train()
    head = _head(runner)
    return dict(
        wd=wd,
        ckpt=str(wd / 'iter_2.pth'),
        m=head.mean_score_tracker.mean_score.clone(),
        bank=head.memory_bank.summary(),
        num_classes=head.num_classes)


def test_fresh_start_fills_every_class_and_warms_up_m(first_run):
    s = first_run['bank']
    # every toy class has training images; 1 image x >= 1 GT x 16 boxes
    assert s['filled_classes'] == first_run['num_classes'] == 60
    m = first_run['m']
    assert m[60] == 0.01
    # m moved away from init for (almost) every class during the init pass
    assert int((m[:60] != 0.01).sum()) >= 55
    assert torch.isfinite(m).all() and (m[:60] > 0).all() and (
        m[:60] < 1).all()
    ck = torch.load(first_run['ckpt'], map_location='cpu', weights_only=False)
    assert torch.equal(
        ck['state_dict']['roi_head.bbox_head.loss_cls.tracker.mean_score'],
        m)
    assert not any('memory_bank' in k for k in ck['state_dict'])


def test_resume_refills_bank_keeps_m_and_rng(first_run, toy_lvis_root,
                                            tmp_path):
    banks, rng = [], []
    for k in range(2):
        wd = tmp_path / f'r{k}'
        wd.mkdir()
        os.symlink(first_run['ckpt'], wd / 'iter_2.pth')
        (wd / 'last_checkpoint').write_text(str(wd / 'iter_2.pth'))
        runner = make_runner(toy_lvis_root, wd, resume=True)
        # max_iters reached: before_train (the refill) runs, no iteration
        runner.train()
        head = _head(runner)
        # m restored exactly, not updated by the refill pass
        assert torch.equal(head.mean_score_tracker.mean_score,
                           first_run['m'])
        assert head.update_mean_score  # switched back on afterwards
        bank = head.memory_bank
        assert bank.summary()['filled_classes'] == 60
        # unfilled slots are uninitialised storage: compare filled ones
        filled = torch.arange(bank.queue_size)[None] < bank.count[:, None]
        banks.append((bank.feats[filled].clone(), bank.targets[filled].clone(),
                      bank.count.clone(), bank.ptr.clone()))
        rng.append(torch.get_rng_state())
    # deterministic refill
    for a, b in zip(banks[0], banks[1]):
        assert torch.equal(a, b)
    # the training stream after the refill is the checkpoint's
    ck = torch.load(first_run['ckpt'], map_location='cpu', weights_only=False)
    assert torch.equal(rng[0], ck['rng_state']['torch'])


def test_hook_needs_loce_head():
    from mmlt.engine.hooks import MemoryBankInitHook
    cfg = get_config('toy/loce/stage1.py')
    hook = MemoryBankInitHook()

    class FakeRunner:
        pass

    from mmdet.registry import MODELS
    fake = FakeRunner()
    torch.manual_seed(0)
    fake.model = MODELS.build(cfg.model)
    with pytest.raises(TypeError, match='LoceRoIHead'):
        hook.before_train(fake)


def test_bad_images_per_class():
    from mmlt.engine.hooks import MemoryBankInitHook
    with pytest.raises(ValueError, match='images_per_class'):
        MemoryBankInitHook(images_per_class=0)


def test_bad_max_images():
    from mmlt.engine.hooks import MemoryBankInitHook
    with pytest.raises(ValueError, match='max_images'):
        MemoryBankInitHook(max_images=0)


def test_max_images_caps_the_init_pass(toy_lvis_root, tmp_path):
    from mmlt.engine.hooks import MemoryBankInitHook
    runner = make_runner(toy_lvis_root, tmp_path)
    hook = [h for h in runner.hooks if isinstance(h, MemoryBankInitHook)][0]
    hook.max_images = 2
    runner.train()
    filled = _head(runner).memory_bank.summary()['filled_classes']
    # toy images hold at most 7 classes: 2 init images + 2 training
    # iterations x 2 images fill at most 6 x 7 of the 60 classes (a full
    # init pass fills all 60, test above)
    assert 1 <= filled <= 6 * 7 < 60
