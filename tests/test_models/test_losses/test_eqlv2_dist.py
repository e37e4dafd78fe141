"""EQLv2 statistics under torch.distributed (gloo, 2 processes): every rank
holds identical buffers equal to a single-process replay that sums both
ranks' per-step statistics; without torch.distributed nothing is reduced."""
import os

import torch
import torch.multiprocessing as mp

from mmlt.models.losses.eqlv2 import EqualizationLossV2
from mmlt.testing import free_port

C, N, STEPS = 6, 16, 4


def _batch(rank, step):
    g = torch.Generator().manual_seed(1000 * rank + step)
    z = torch.randn(N, C + 1, generator=g) * 2
    # rank 0 sees classes 0..2 only, rank 1 sees 3..5 (different data)
    label = torch.randint(0, 3, (N, ), generator=g) + 3 * rank
    label[torch.rand(N, generator=g) < 0.3] = C  # background RoIs
    return z, label


def _step(loss, z, label):
    z = z.clone().requires_grad_(True)
    loss(z, label).backward()


def _state(loss):
    return {k: v.clone() for k, v in loss.state_dict().items()}


def _worker(rank, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        loss = EqualizationLossV2(num_classes=C).train()
        for step in range(STEPS):
            _step(loss, *_batch(rank, step))
        out[rank] = _state(loss)
    finally:
        dist.destroy_process_group()


def _replay():
    """What a 2-rank run must hold: per step, both ranks' statistics are
    computed with the same (synchronised) weights and summed."""
    loss = EqualizationLossV2(num_classes=C).train()
    for step in range(STEPS):
        before = _state(loss)
        deltas = []
        for rank in (0, 1):
            loss.load_state_dict(before)
            _step(loss, *_batch(rank, step))
            deltas.append({
                k: loss.state_dict()[k] - before[k]
                for k in ('pos_grad', 'neg_grad')
            })
        summed = dict(before)
        for k in ('pos_grad', 'neg_grad'):
            summed[k] = before[k] + deltas[0][k] + deltas[1][k]
        summed['pos_neg'] = summed['pos_grad'] / (summed['neg_grad'] + 1e-10)
        loss.load_state_dict(summed)
    return _state(loss)


def test_two_gloo_ranks_hold_identical_reduced_buffers():
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(free_port(), out), nprocs=2, join=True)
        out = dict(out)
    expected = _replay()
    for k in ('pos_grad', 'neg_grad', 'pos_neg'):
        assert torch.equal(out[0][k], out[1][k]), k
        torch.testing.assert_close(out[0][k], expected[k], rtol=1e-10,
                                   atol=1e-12)
    # both ranks' classes were collected on each rank
    assert (out[0]['pos_grad'] > 0).all()


def test_single_process_collects_only_local_batch():
    assert not torch.distributed.is_initialized()
    loss = EqualizationLossV2(num_classes=C).train()
    for step in range(STEPS):
        _step(loss, *_batch(0, step))
    pos = loss.state_dict()['pos_grad']
    assert (pos[:3] > 0).all() and (pos[3:] == 0).all()
