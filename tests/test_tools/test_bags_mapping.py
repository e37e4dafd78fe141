"""tools/misc/bags_mapping.py writes files that the loss config loads back."""
import importlib.util
import json
import os.path as osp

import torch

import mmlt  # noqa: F401
from mmdet.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'bags_mapping_cli', osp.join(ROOT, 'tools', 'misc', 'bags_mapping.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_lvis(path, counts):
    """One category per count (ids 1..C), ``counts[c]`` boxes each."""
    cats = [
        dict(id=i + 1, name=f'cls{i}', frequency='r', image_count=1)
        for i in range(len(counts))
    ]
    images = [dict(id=1, width=32, height=32,
                   coco_url='http://x/train2017/000000000001.jpg')]
    anns, k = [], 0
    for i, n in enumerate(counts):
        for _ in range(n):
            k += 1
            anns.append(dict(id=k, image_id=1, category_id=i + 1,
                             bbox=[1, 1, 4, 4], area=16.))
    with open(path, 'w') as f:
        json.dump(dict(categories=cats, images=images, annotations=anns), f)
    return str(path)


def test_cli_writes_and_config_loads_back(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))
    ann = write_lvis(tmp_path / 'train.json', [3, 15, 150, 1, 40])
    tool = load_tool()
    out = tmp_path / 'map'
    assert tool.main(['--ann-file', ann, '--out-dir', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'classes: 5' in text and 'groups: 4' in text
    assert '[100, 1000)' in text and 'wrote' in text
    l2b = torch.load(str(out / 'label2binlabel.pt'))
    assert l2b.tolist() == [
        [0, 0, 0, 0, 0, 1],
        [1, 0, 0, 2, 0, 0],
        [0, 1, 0, 0, 2, 0],
        [0, 0, 1, 0, 0, 0],
    ]
    assert torch.load(str(out / 'pred_slice.pt')).tolist() == [[0, 2], [2, 3],
                                                               [5, 3], [8, 2]]
    info = json.load(open(out / 'bags_mapping.json'))
    assert [g['name'] for g in info['groups']] == [
        'background', '[0, 10)', '[10, 100)', '[100, 1000)'
    ]
    assert [c['name'] for c in info['groups'][1]['classes']] == ['cls0',
                                                                 'cls3']
    # the config path: mapping_file, checked against the head's classes
    loss = MODELS.build(
        dict(type='GroupSoftmaxLoss',
             label_mapping=dict(type='GroupSoftmaxLabelMapping',
                                mapping_file=str(out), num_classes=5)))
    assert loss.get_cls_channels(5) == 5 + 1 + 4
    # custom edges
    assert tool.main([
        '--ann-file', ann, '--out-dir', str(tmp_path / 'm2'), '--bin-edges',
        '20'
    ]) == 0
    assert 'groups: 3' in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    tool = load_tool()
    assert tool.main([
        '--ann-file', str(tmp_path / 'missing.json'), '--out-dir',
        str(tmp_path)
    ]) == 2
    assert 'does not exist' in capsys.readouterr().err
    ann = write_lvis(tmp_path / 'train.json', [3, 15])
    assert tool.main(['--ann-file', ann, '--out-dir', str(tmp_path / 'o'),
                      '--num-classes', '3']) == 2
    assert 'num_classes=3' in capsys.readouterr().err
    # an existing mapping: the same one is kept, another is refused
    out = str(tmp_path / 'm')
    assert tool.main(['--ann-file', ann, '--out-dir', out]) == 0
    before = (tmp_path / 'm' / 'label2binlabel.pt').stat().st_mtime_ns
    assert tool.main(['--ann-file', ann, '--out-dir', out]) == 0
    assert 'already holds this mapping' in capsys.readouterr().out
    args = ['--ann-file', ann, '--out-dir', out, '--bin-edges', '5']
    assert tool.main(args) == 2
    err = capsys.readouterr().err
    assert out in err and 'bin edges [10.0, 100.0, 1000.0]' in err
    assert '--force' in err
    assert (tmp_path / 'm' / 'label2binlabel.pt').stat().st_mtime_ns == \
        before
    assert tool.main(args + ['--force']) == 0
    # an --out-dir below a file
    (tmp_path / 'f').write_text('')
    assert tool.main(['--ann-file', ann, '--out-dir',
                      str(tmp_path / 'f' / 'm')]) == 2
    assert f'{tmp_path}/f is a file' in capsys.readouterr().err
