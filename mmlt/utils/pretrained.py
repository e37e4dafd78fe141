"""``torchvision://NAME`` checkpoints without torchvision.

mmengine resolves ``torchvision://resnet50`` (the ImageNet weights of every
mmdet R50/R101 config) by importing torchvision only to read its table of
model URLs, then downloads the URL into torch's hub cache. torchvision is a
heavy dependency that does not always install beside a given torch build, so
mmlt registers its own loader for the scheme:

* torchvision importable: mmengine's loader runs unchanged.
* otherwise: the name is looked up in mmengine's own copy of torchvision's
  0.12 URL table (``mmengine/hub/torchvision_0.12.json``) plus the
  ``<arch>.imagenet1k_v1|v2|default`` names of torchvision >= 0.13 for the
  ResNet/ResNeXt/Wide-ResNet families, and the file is read from (or
  downloaded to) ``$TORCH_HOME/hub/checkpoints/<file name of the URL>`` —
  the path and name torchvision uses, so weights a torchvision user already
  has are reused and an offline cluster can pre-place them there.

The cached file is loaded with ``weights_only=True``: torchvision's files
are plain state dicts.
"""
import os
import os.path as osp
from urllib.parse import urlparse

import mmengine
import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.runner.checkpoint import \
    load_from_torchvision as _mmengine_loader

_TV = 'https://download.pytorch.org/models/'
# torchvision >= 0.13 weight-enum names (lower-cased as mmengine keys them)
# of the families mmdet's configs use; the 0.12 names (resnet50, ...) come
# from mmengine's json.
_NEW_STYLE = {
    'resnet18': ('resnet18-f37072fd.pth', None),
    'resnet34': ('resnet34-b627a593.pth', None),
    'resnet50': ('resnet50-0676ba61.pth', 'resnet50-11ad3fa6.pth'),
    'resnet101': ('resnet101-63fe2227.pth', 'resnet101-cd907fc2.pth'),
    'resnet152': ('resnet152-394f9c45.pth', 'resnet152-f82ba261.pth'),
    'resnext50_32x4d': ('resnext50_32x4d-7cdf4587.pth',
                        'resnext50_32x4d-1a0047aa.pth'),
    'resnext101_32x8d': ('resnext101_32x8d-8ba56ff5.pth',
                         'resnext101_32x8d-110c445d.pth'),
    'resnext101_64x4d': ('resnext101_64x4d-173b62eb.pth', None),
    'wide_resnet50_2': ('wide_resnet50_2-95faca4d.pth',
                        'wide_resnet50_2-9ba9bcbe.pth'),
    'wide_resnet101_2': ('wide_resnet101_2-32ee1156.pth',
                         'wide_resnet101_2-d733dc28.pth'),
}

def torchvision_model_urls():
    """``{name: url}`` for torchvision:// names, without torchvision."""
    urls = dict(
        mmengine.load(
            osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json')))
    for arch, (v1, v2) in _NEW_STYLE.items():
        urls[f'{arch}.imagenet1k_v1'] = _TV + v1
        if v2 is not None:
            urls[f'{arch}.imagenet1k_v2'] = _TV + v2
        # torchvision's DEFAULT is the newest recipe
        urls[f'{arch}.default'] = _TV + (v2 or v1)
        urls.setdefault(arch, _TV + v1)
    return urls


def torchvision_available():
    try:
        import torchvision  # noqa: F401
    except Exception:  # ImportError, or a broken binary beside this torch
        return False
    return True


def hub_checkpoint_dir():
    """Where torch (and torchvision) cache downloaded weights."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def _scheme_name(filename):
    for prefix in ('torchvision://', 'modelzoo://'):
        if filename.startswith(prefix):
            return filename[len(prefix):]
    raise ValueError(f'not a torchvision:// checkpoint: {filename!r}')


def resolve_torchvision(filename):
    """``(url, cached_path)`` of a ``torchvision://NAME`` checkpoint."""
    name = _scheme_name(filename)
    urls = torchvision_model_urls()
    if name not in urls:
        known = ', '.join(sorted(k for k in urls if '.' not in k))
        raise KeyError(
            f'{filename}: unknown torchvision model name {name!r}. Known '
            f'names: {known} (and <name>.imagenet1k_v1/_v2/.default); or '
            'give the checkpoint as a URL or a local file.')
    url = urls[name]
    return url, osp.join(hub_checkpoint_dir(), osp.basename(
        urlparse(url).path))


def load_from_torchvision(filename, map_location=None):
    """Loader of the ``torchvision://`` / ``modelzoo://`` schemes."""
    if torchvision_available():
        return _mmengine_loader(filename, map_location=map_location)
    url, cached = resolve_torchvision(filename)
    if not osp.isfile(cached):
        print_log(f'{filename}: downloading {url} to {cached}',
                  logger='current')
        os.makedirs(osp.dirname(cached), exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, cached, progress=False)
        except Exception as e:  # no network, proxy, HTTP error, disk full
            raise FileNotFoundError(
                f'{filename}: pretrained weights {osp.basename(cached)} are '
                f'not in the torch hub cache and could not be downloaded '
                f'from {url} ({type(e).__name__}: {e}). On a machine with '
                f'network, download that URL and put the file at {cached} '
                '(i.e. $TORCH_HOME/hub/checkpoints/'
                f'{osp.basename(cached)}; TORCH_HOME defaults to '
                '~/.cache/torch).') from e
    return torch.load(cached, map_location=map_location, weights_only=True)


def install_torchvision_loader():
    """Register :func:`load_from_torchvision` for mmengine (idempotent)."""
    CheckpointLoader.register_scheme(
        prefixes=('modelzoo://', 'torchvision://'),
        loader=load_from_torchvision,
        force=True)
