from .checkpoint import install_checkpoint_fix, load_local_checkpoint
from .dist import (all_gather_cat, all_reduce_sum, get_rank, get_world_size,
                   is_dist)
from .pretrained import install_torchvision_loader, resolve_torchvision

install_checkpoint_fix()
install_torchvision_loader()

__all__ = [
    'install_checkpoint_fix', 'load_local_checkpoint', 'all_gather_cat',
    'all_reduce_sum', 'get_rank', 'get_world_size', 'is_dist',
    'install_torchvision_loader', 'resolve_torchvision'
]
