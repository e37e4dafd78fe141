"""Helpers for tests of mmlt (and of code built on it).

mmdet's own ``mmdet.testing.get_detector_cfg`` looks for configs in an mmdet
source checkout; a pip-installed mmdet keeps them under
``mmdet/.mim/configs``. These helpers resolve both, and mmlt's configs.
"""
import copy
import os.path as osp
import socket

from mmengine.config import Config

MMLT_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def mmdet_config_path(rel_path: str) -> str:
    """Absolute path of an mmdet config, e.g. 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'."""
    import mmdet
    pkg = osp.dirname(mmdet.__file__)
    for root in (osp.join(pkg, '.mim', 'configs'),
                 osp.join(osp.dirname(pkg), 'configs')):
        path = osp.join(root, rel_path)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmdet config {rel_path!r} is neither in the installed package '
        f'({osp.join(pkg, ".mim", "configs")}) nor in a source checkout')


def mmlt_config_path(rel_path: str) -> str:
    """Absolute path of an mmlt config, e.g. 'toy/mask-rcnn_r18_fpn_toy_ce.py'."""
    path = osp.join(MMLT_ROOT, 'configs', rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmlt config {path} does not exist')
    return path


def get_config(rel_path: str) -> Config:
    """Load an mmlt config if it exists, else an mmdet one."""
    try:
        return Config.fromfile(mmlt_config_path(rel_path))
    except FileNotFoundError:
        return Config.fromfile(mmdet_config_path(rel_path))


def get_detector_cfg(rel_path: str):
    """Deep copy of the ``model`` dict of an mmlt or mmdet config."""
    return copy.deepcopy(get_config(rel_path).model)


def free_port() -> int:
    """A free localhost TCP port for a test's gloo rendezvous."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
