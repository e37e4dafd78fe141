"""tools/misc/tau_norm.py on a hand-made checkpoint: plain tau-norm on every
row, the select variant on r/c rows only (groups from a stats file or from
the training ann_file in the checkpoint's config), biases kept."""
import importlib.util
import json
import os.path as osp

import pytest
import torch

from mmlt.datasets.class_stats import ClassStats

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEY = 'roi_head.bbox_head.fc_cls.weight'


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'tau_norm_tool', osp.join(ROOT, 'tools/misc/tau_norm.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# C = 3 classes (groups f, r, c) + background; row norms 5, 2, 13, 10
W = torch.tensor([[3., 4.], [0., 2.], [5., 12.], [6., 8.]])
BIAS = torch.tensor([1., 2., 3., 4.])


def make_ckpt(tmp_path, cfg_text=None):
    sd = {KEY: W.clone(), 'roi_head.bbox_head.fc_cls.bias': BIAS.clone(),
          'backbone.conv1.weight': torch.ones(2, 2)}
    meta = {'cfg': cfg_text} if cfg_text else {}
    path = str(tmp_path / 'stage1.pth')
    torch.save({'meta': meta, 'state_dict': sd, 'optimizer': {}}, path)
    return path


def stats_file(tmp_path):
    path = str(tmp_path / 'stats.json')
    ClassStats([1, 2, 3], list('abc'), [200, 3, 50], [400, 3, 60], 300,
               list('frc')).save(path)
    return path


def test_plain_tau_norm_all_rows(tmp_path):
    tool = load_tool()
    out = str(tmp_path / 'tau.pth')
    tool.main([make_ckpt(tmp_path), '--tau', '0.5', '--out', out])
    ck = torch.load(out, weights_only=False)
    w = ck['state_dict'][KEY]
    norms = torch.tensor([5., 2., 13., 10.])
    assert torch.allclose(w.norm(dim=1), norms.sqrt())  # ||w||^(1 - .5)
    assert torch.allclose(w, W / norms[:, None].sqrt())
    assert torch.equal(ck['state_dict']['roi_head.bbox_head.fc_cls.bias'],
                       BIAS)
    assert torch.equal(ck['state_dict']['backbone.conv1.weight'],
                       torch.ones(2, 2))
    assert 'optimizer' not in ck
    assert ck['meta']['tau_norm']['tau'] == 0.5


def test_select_rare_common_rows(tmp_path):
    tool = load_tool()
    out = str(tmp_path / 'sel.pth')
    tool.main([make_ckpt(tmp_path), '--select', '--stats-file',
               stats_file(tmp_path), '--out', out])
    w = torch.load(out, weights_only=False)['state_dict'][KEY]
    assert torch.equal(w[0], W[0]) and torch.equal(w[3], W[3])  # f, bg
    assert torch.allclose(w[1], torch.tensor([0., 1.]))  # r
    assert torch.allclose(w[2], torch.tensor([5 / 13, 12 / 13]))  # c


def test_groups_from_checkpoint_config_and_sweep(tmp_path, capsys):
    cats = [dict(id=i + 1, name=n, frequency=f, image_count=c)
            for i, (n, f, c) in enumerate([('a', 'f', 2), ('b', 'r', 1),
                                           ('c', 'c', 1)])]
    ann = dict(categories=cats,
               images=[dict(id=1, width=8, height=8),
                       dict(id=2, width=8, height=8)],
               annotations=[dict(id=k + 1, image_id=i, category_id=c,
                                 bbox=[0, 0, 2, 2], area=4)
                            for k, (i, c) in enumerate([(1, 1), (2, 1),
                                                        (1, 2), (2, 3)])])
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    cfg_text = ('train_dataloader = dict(dataset=dict(type="Wrapper", '
                'dataset=dict(type="LongTailLVISDataset", '
                f'data_root="{tmp_path}/", ann_file="ann.json")))\n')
    tool = load_tool()
    out = str(tmp_path / 'sel.pth')
    tool.main([make_ckpt(tmp_path, cfg_text), '--select', 'r', '--out', out,
               '--tau-sweep', '0', '1'])
    w = torch.load(out, weights_only=False)['state_dict'][KEY]
    assert torch.allclose(w[1], torch.tensor([0., 1.]))
    assert torch.equal(w[[0, 2, 3]], W[[0, 2, 3]])
    printed = capsys.readouterr().out
    # tau = 0: group means r 2, c 13, f 5, bg 10; tau = 1: all 1
    assert '2 [2, 2]' in printed and '13 [13, 13]' in printed
    assert '1 [1, 1]' in printed


def _exit2(capsys, match, fn, *args):
    """``fn(*args)`` exits with status 2 and prints ``match`` on stderr."""
    import re
    with pytest.raises(SystemExit) as e:
        fn(*args)
    assert e.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_errors(tmp_path, capsys):
    tool = load_tool()
    ck = make_ckpt(tmp_path)
    _exit2(capsys, '--ann-file', tool.main,
           [ck, '--select', '--out', str(tmp_path / 'x.pth')])
    path = str(tmp_path / 'stats4.json')
    ClassStats([1, 2], list('ab'), [1, 1], [1, 1], 2, list('rr')).save(path)
    _exit2(capsys, 'expected 3 rows', tool.main,
           [ck, '--select', '--stats-file', path, '--out',
            str(tmp_path / 'x.pth')])
    torch.save({'state_dict': {'a.weight': W}}, str(tmp_path / 'n.pth'))
    _exit2(capsys, 'fc_cls', tool.main,
           [str(tmp_path / 'n.pth'), '--out', str(tmp_path / 'x')])
    # missing checkpoint: says which config trains it and how
    missing = 'work_dirs/mask-rcnn_r50_fpn_1x_lvis-v1/epoch_12.pth'
    _exit2(capsys, r'(?s)stage-1 checkpoint work_dirs/mask-rcnn_r50_fpn_1x_'
           r'lvis-v1/epoch_12\.pth does not exist.*tools/dist_train\.sh '
           r'configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1\.py',
           tool.main, [missing, '--out', str(tmp_path / 'x.pth')])
    # --out: the input itself, or a path below a file
    _exit2(capsys, 'is the input checkpoint', tool.main,
           [ck, '--out', ck])
    (tmp_path / 'f').write_text('')
    _exit2(capsys, f'cannot write the output checkpoint {tmp_path}/f/x.pth: '
           f'{tmp_path}/f is a file', tool.main,
           [ck, '--out', str(tmp_path / 'f' / 'x.pth')])
