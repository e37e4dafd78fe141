"""Collectives without torch.distributed are identities; with gloo they
reduce/gather across ranks."""
import os

import torch
import torch.multiprocessing as mp

from mmlt.utils import all_gather_cat, all_reduce_sum, get_rank, get_world_size
from mmlt.testing import free_port


def test_no_dist_is_identity():
    t = torch.tensor([1., 2.])
    assert all_reduce_sum(t) is t and t.tolist() == [1., 2.]
    g = torch.arange(3)
    assert torch.equal(all_gather_cat(g), g)
    assert get_rank() == 0 and get_world_size() == 1


def _worker(rank, world, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        t = torch.full((3, ), float(rank + 1))
        all_reduce_sum(t)
        # ranks contribute different lengths: rank r sends r+1 rows
        g = all_gather_cat(torch.full((rank + 1, 2), rank))
        out[rank] = (t.tolist(), g.tolist())
    finally:
        dist.destroy_process_group()


def test_gloo_two_ranks():
    port = free_port()
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
        out = dict(out)
    for rank in (0, 1):
        reduced, gathered = out[rank]
        assert reduced == [3., 3., 3.]
        assert gathered == [[0, 0], [1, 1], [1, 1]]


def _empty_worker(rank, world, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        # all ranks empty: one size collective only, empty result
        e = all_gather_cat(torch.zeros(0, 2, dtype=torch.float64))
        # rank 0 empty, rank 1 two rows: padding dropped
        rows = torch.full((2 * rank, 2), 7.5, dtype=torch.float64)
        g = all_gather_cat(rows)
        out[rank] = (tuple(e.shape), e.dtype, g.tolist())
    finally:
        dist.destroy_process_group()


def test_gloo_all_gather_cat_empty_ranks():
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_empty_worker, args=(2, free_port(), out), nprocs=2,
                 join=True)
        out = dict(out)
    for rank in (0, 1):
        shape, dtype, gathered = out[rank]
        assert shape == (0, 2) and dtype == torch.float64
        assert gathered == [[7.5, 7.5], [7.5, 7.5]]
