"""torchvision:// checkpoints resolve without torchvision (mmlt.utils.pretrained)."""
import glob
import os.path as osp
import sys
import types
import urllib.error

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader, get_external_models

import mmlt  # noqa: F401  (registers the loader)
from mmlt.utils import pretrained

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL_CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if not any(part in p for part in (
        osp.join('configs', 'toy'), osp.join('configs', '_base_'),
        osp.join('configs', 'benchmark'))))


@pytest.fixture
def no_torchvision(monkeypatch, tmp_path):
    """No importable torchvision and an empty torch hub under tmp_path."""
    monkeypatch.setitem(sys.modules, 'torchvision', None)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    return tmp_path / 'torch_home' / 'hub' / 'checkpoints'


def _no_network(url, dst, *args, **kwargs):
    raise urllib.error.URLError('[Errno -2] Name or service not known')


def test_scheme_is_mmlts_loader():
    for prefix in ('torchvision://', 'modelzoo://'):
        assert CheckpointLoader._get_checkpoint_loader(
            prefix + 'resnet50') is pretrained.load_from_torchvision


def test_cached_file_is_what_torchvision_resnet50_loads(no_torchvision):
    from mmdet.models.backbones import ResNet
    fake = ResNet(depth=50).state_dict()
    fake = {k: torch.full_like(v, 0.25) if v.is_floating_point() else v
            for k, v in fake.items()}
    fake['fc.weight'] = torch.zeros(1000, 2048)
    no_torchvision.mkdir(parents=True)
    torch.save(fake, no_torchvision / 'resnet50-0676ba61.pth')

    ckpt = CheckpointLoader.load_checkpoint('torchvision://resnet50')
    assert set(ckpt) == set(fake)
    assert torch.equal(ckpt['layer4.2.conv3.weight'],
                       fake['layer4.2.conv3.weight'])

    # through a backbone's init_cfg, as every mmdet R50 config does
    model = ResNet(
        depth=50,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    model.init_weights()
    assert torch.all(model.layer1[0].conv1.weight == 0.25)
    assert torch.all(model.conv1.weight == 0.25)


def test_new_style_names_map_to_torchvision_files(no_torchvision):
    url, path = pretrained.resolve_torchvision(
        'torchvision://resnet50.imagenet1k_v2')
    assert url.endswith('/resnet50-11ad3fa6.pth')
    assert path == str(no_torchvision / 'resnet50-11ad3fa6.pth')
    assert pretrained.resolve_torchvision(
        'torchvision://resnet101.default')[0].endswith('resnet101-cd907fc2.pth')
    assert pretrained.resolve_torchvision(
        'modelzoo://resnet101')[0].endswith('resnet101-63fe2227.pth')


def test_missing_file_without_network_names_file_url_and_place(
        no_torchvision, monkeypatch):
    monkeypatch.setattr(torch.hub, 'download_url_to_file', _no_network)
    with pytest.raises(FileNotFoundError) as e:
        CheckpointLoader.load_checkpoint('torchvision://resnet101')
    msg = str(e.value)
    assert 'resnet101-63fe2227.pth' in msg
    assert 'https://download.pytorch.org/models/resnet101-63fe2227.pth' in msg
    assert str(no_torchvision / 'resnet101-63fe2227.pth') in msg
    assert '$TORCH_HOME/hub/checkpoints' in msg
    assert 'URLError' in msg


def test_unknown_name_lists_known_ones(no_torchvision):
    with pytest.raises(KeyError, match='resnet50.*resnet101|resnet101'):
        CheckpointLoader.load_checkpoint('torchvision://resnet5O')


def test_torchvision_installed_uses_mmengines_loader(monkeypatch):
    """With torchvision importable, nothing changes: mmengine's loader."""
    monkeypatch.setitem(sys.modules, 'torchvision',
                        types.ModuleType('torchvision'))
    seen = []
    monkeypatch.setattr(
        pretrained, '_mmengine_loader',
        lambda f, map_location=None: seen.append(f) or {'w': 1})
    assert CheckpointLoader.load_checkpoint('torchvision://resnet50') == {
        'w': 1}
    assert seen == ['torchvision://resnet50']


def _checkpoints(node):
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained' and 'checkpoint' in node:
            yield node['checkpoint']
        for v in node.values():
            yield from _checkpoints(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _checkpoints(v)


def test_every_real_config_resolves_its_weights_without_torchvision(
        no_torchvision):
    assert len(REAL_CONFIGS) > 80
    config_names = {osp.splitext(osp.basename(p))[0] for p in REAL_CONFIGS}
    openmmlab = get_external_models()
    schemes = {}
    for path in REAL_CONFIGS:
        cfg = Config.fromfile(path)
        for ckpt in _checkpoints(cfg.to_dict()["model"]):
            if ckpt.startswith('torchvision://'):
                url, cached = pretrained.resolve_torchvision(ckpt)
                assert url.startswith('https://download.pytorch.org/')
                assert cached.startswith(str(no_torchvision))
            elif ckpt.startswith(('open-mmlab://', 'openmmlab://')):
                assert ckpt.split('://', 1)[1] in openmmlab, (path, ckpt)
            else:
                assert ckpt.startswith('https://'), (path, ckpt)
            schemes.setdefault(ckpt.split('://')[0], []).append(path)
        load_from = cfg.get('load_from')
        if load_from:
            # stage 2: the last checkpoint of a stage-1 config of mmlt
            parts = load_from.split('/')
            assert parts[0] == 'work_dirs' and parts[1] in config_names, (
                path, load_from)
    assert 'torchvision' in schemes and 'open-mmlab' in schemes
    assert 'torchvision' not in sys.modules or sys.modules['torchvision'] \
        is None
