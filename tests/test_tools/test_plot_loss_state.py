import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'plot_loss_state',
        osp.join(ROOT, 'tools', 'analysis', 'plot_loss_state.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


pls = _load_tool()

# 4 classes: r, c, f, f with 1, 3, 6, 10 instances
FREQ = ('r', 'c', 'f', 'f')
COUNTS = (1, 3, 6, 10)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))


@pytest.fixture
def ann(tmp_path):
    cats = [dict(id=i + 1, name=f'c{i}', frequency=f, image_count=n,
                 instance_count=n) for i, (f, n) in enumerate(zip(FREQ,
                                                                COUNTS))]
    images = [dict(id=i + 1, width=10, height=10, file_name=f'{i}.jpg')
              for i in range(10)]
    anns, k = [], 0
    for c, n in enumerate(COUNTS):
        for j in range(n):
            k += 1
            anns.append(dict(id=k, image_id=j + 1, category_id=c + 1,
                             bbox=[0, 0, 2, 2], area=4, iscrowd=0))
    p = tmp_path / 'train.json'
    p.write_text(json.dumps(dict(images=images, annotations=anns,
                                 categories=cats)))
    return str(p)


def _ckpt(tmp_path, state, name='m.pth'):
    p = tmp_path / name
    torch.save({'state_dict': state, 'meta': {}}, str(p))
    return str(p)


def test_efl_state(tmp_path, ann, capsys):
    pos_neg = torch.tensor([0.2, 0.4, 0.8, 1.0], dtype=torch.float64)
    ckpt = _ckpt(tmp_path, {
        'backbone.w': torch.zeros(2),
        'bbox_head.loss_cls.pos_neg': pos_neg,
        'bbox_head.loss_cls.pos_grad': torch.tensor([1., 2., 30., 400.]),
        'bbox_head.loss_cls.neg_grad': torch.tensor([2., 4., 40., 400.]),
    })
    out = tmp_path / 'o' / 'ls.png'
    assert pls.main([ckpt, '--train-ann', ann, '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert '| state | r | c | f | all |' in text
    # f mean = (0.8 + 1.0) / 2, all = 2.4 / 4
    assert '| bbox_head.loss_cls.pos_neg | 0.2 | 0.4 | 0.9 | 0.6 |' in text
    assert '| bbox_head.loss_cls.pos_grad | 1 | 2 | 215 | 108.2 |' in text
    assert out.read_bytes()[:4] == b'\x89PNG' and out.stat().st_size > 1000


def test_loce_mean_score_drops_background(tmp_path, ann, capsys):
    ms = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.99])  # last: background
    ckpt = _ckpt(tmp_path,
                 {'roi_head.bbox_head.loss_cls.tracker.mean_score': ms})
    pls.main([ckpt, '--train-ann', ann])  # default: next to the checkpoint
    assert (tmp_path / 'loss_state.png').stat().st_size > 0
    states = pls.find_states(
        {'roi_head.bbox_head.loss_cls.tracker.mean_score': ms}, 4)
    v = states['roi_head.bbox_head.loss_cls.tracker.mean_score']
    assert v.shape == (4, )
    means = pls.group_means(states, np.array(FREQ))
    m = means['roi_head.bbox_head.loss_cls.tracker.mean_score']
    assert m['r'] == pytest.approx(0.1)
    assert m['f'] == pytest.approx(0.6)
    assert m['all'] == pytest.approx(0.4)


def test_eqlv2_keys_and_empty_group():
    sd = {'roi_head.bbox_head.1.loss_cls.pos_neg': torch.ones(3),
          'roi_head.bbox_head.1.loss_cls.weight': torch.ones(3)}
    states = pls.find_states(sd, 3)
    assert list(states) == ['roi_head.bbox_head.1.loss_cls.pos_neg']
    means = pls.group_means(states, np.array(['f', 'f', 'c']))
    assert np.isnan(means['roi_head.bbox_head.1.loss_cls.pos_neg']['r'])


def test_errors(tmp_path, ann):
    ckpt = _ckpt(tmp_path, {'backbone.w': torch.zeros(2)})
    with pytest.raises(ValueError, match='no known loss state'):
        pls.main([ckpt, '--train-ann', ann])
    ckpt = _ckpt(tmp_path, {'bbox_head.loss_cls.pos_neg': torch.ones(7)},
                 'bad.pth')
    with pytest.raises(ValueError, match='has 7 classes but the class '
                       'stats have 4'):
        pls.main([ckpt, '--train-ann', ann])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        pls.main([str(tmp_path / 'missing.pth'), '--train-ann', ann])
    with pytest.raises(SystemExit):  # class stats are required
        pls.main([ckpt])
