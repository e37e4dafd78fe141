"""Collective helpers that are no-ops without torch.distributed.

Method state (gradient statistics, mean scores) is reduced through these, so
a single-process run never touches torch.distributed, and a multi-process run
(NCCL on GPUs, gloo on CPU) keeps identical state on every rank.
"""
from typing import List

import torch
import torch.distributed as dist


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def _comm_device(tensor: torch.Tensor) -> torch.device:
    # gloo only reduces CPU tensors, NCCL only CUDA tensors.
    if is_dist() and dist.get_backend() == 'nccl':
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all ranks; returns it unchanged when not distributed.

    Works in place on ``tensor`` when it already lives on the communication
    device and returns the reduced tensor in every case.
    """
    if not is_dist() or get_world_size() == 1:
        return tensor
    dev = _comm_device(tensor)
    buf = tensor.detach().to(dev)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    if buf.device != tensor.device or buf.data_ptr() != tensor.data_ptr():
        tensor.copy_(buf.to(tensor.device))
    return tensor


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate along dim 0 the tensors of every rank (lengths may differ).

    Ranks may contribute 0 rows; shorter tensors are zero-padded for the
    transfer and the padding is dropped using the gathered lengths. Dtype
    and trailing shape must agree across ranks. A collective: every rank
    must call it.
    """
    if not is_dist() or get_world_size() == 1:
        return tensor
    dev = _comm_device(tensor)
    local = tensor.detach().to(dev)
    size = torch.tensor([local.shape[0]], device=dev, dtype=torch.long)
    sizes: List[torch.Tensor] = [torch.zeros_like(size)
                                 for _ in range(get_world_size())]
    dist.all_gather(sizes, size)
    max_len = int(max(s.item() for s in sizes))
    if max_len == 0:
        # every rank knows all are empty: skip the second collective
        return tensor
    padded = local.new_zeros((max_len, ) + tuple(local.shape[1:]))
    padded[:local.shape[0]] = local
    chunks = [torch.zeros_like(padded) for _ in range(get_world_size())]
    dist.all_gather(chunks, padded)
    out = torch.cat([c[:int(s.item())] for c, s in zip(chunks, sizes)])
    return out.to(tensor.device)
