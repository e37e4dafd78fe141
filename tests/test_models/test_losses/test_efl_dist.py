"""EFL / EQFL statistics under torch.distributed (gloo, 2 processes): every
rank holds identical buffers equal to a single-process replay that sums
both ranks' per-step statistics; without torch.distributed nothing is
reduced."""
import os

import torch
import torch.multiprocessing as mp

from mmlt.models.losses.efl import (EqualizedFocalLoss,
                                    EqualizedQualityFocalLoss)
from mmlt.testing import free_port

C, N, STEPS, LEVELS = 6, 24, 3, 2
KEYS = ('pos_grad', 'neg_grad', 'pos_neg', 'pending_grad')


def _batch(rank, step, level):
    g = torch.Generator().manual_seed(1000 * rank + 10 * step + level)
    z = torch.randn(N, C, generator=g) * 2 - 1
    # rank 0 sees classes 0..2 only, rank 1 sees 3..5 (different data)
    label = torch.randint(0, 3, (N, ), generator=g) + 3 * rank
    label[torch.rand(N, generator=g) < 0.5] = C  # background anchors
    weight = (torch.rand(N, generator=g) > 0.1).float()  # some ignored
    score = torch.rand(N, generator=g)
    return z, label, weight, score


def _losses():
    return {
        'efl': EqualizedFocalLoss(num_classes=C).train(),
        'eqfl': EqualizedQualityFocalLoss(num_classes=C).train()
    }


def _forwards(name, loss, rank, step):
    """One step of a dense head: one loss call per level."""
    outs = []
    for level in range(LEVELS):
        z, label, weight, score = _batch(rank, step, level)
        z = z.requires_grad_(True)
        target = label if name == 'efl' else (label, score)
        outs.append(loss(z, target, weight, avg_factor=5.))
    return sum(outs)


def _state(loss):
    return {k: v.clone() for k, v in loss.state_dict().items()}


def _worker(rank, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        result = {}
        for name, loss in _losses().items():
            for step in range(STEPS):
                _forwards(name, loss, rank, step).backward()
            result[name] = _state(loss)
        out[rank] = result
    finally:
        dist.destroy_process_group()


def _replay(name, loss):
    """What a 2-rank run must hold: per step, both ranks' forwards use the
    same (synchronised) g, their statistics are summed and folded in at
    backward."""
    for step in range(STEPS):
        before = _state(loss)
        pending = []
        for rank in (0, 1):
            loss.load_state_dict(before)
            with torch.no_grad():  # statistics only, no backward
                _forwards(name, loss, rank, step)
            pending.append(loss.pending_grad.clone())
        summed = dict(before)
        summed['pending_grad'] = pending[0] + pending[1]
        loss.load_state_dict(summed)
        loss.commit_grad_stats()
    return _state(loss)


def test_two_gloo_ranks_hold_identical_reduced_buffers():
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(free_port(), out), nprocs=2, join=True)
        out = dict(out)
    for name, loss in _losses().items():
        expected = _replay(name, loss)
        for k in KEYS:
            assert torch.equal(out[0][name][k], out[1][name][k]), (name, k)
            torch.testing.assert_close(out[0][name][k], expected[k],
                                       rtol=1e-10, atol=1e-12)
        # both ranks' classes were collected on each rank
        assert (out[0][name]['pos_grad'] > 0).all(), name
        assert (out[0][name]['pending_grad'] == 0).all()
        assert (out[0][name]['pos_neg'] < 1).any()


def test_single_process_collects_only_local_batch():
    assert not torch.distributed.is_initialized()
    for name, loss in _losses().items():
        for step in range(STEPS):
            _forwards(name, loss, 0, step).backward()
        pos = loss.pos_grad
        assert (pos[:3] > 0).all() and (pos[3:] == 0).all(), name
        assert (loss.pos_neg[3:] == 0).all()
