import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'compare_runs', osp.join(ROOT, 'tools', 'analysis', 'compare_runs.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cr = _load_tool()


def _metrics(ap, segm=True):
    m = {f'lvis/bbox_{k}': ap + d for k, d in
         zip(cr.KEYS, (0., -0.1, 0., 0.1))}
    if segm:
        m.update({k.replace('bbox', 'segm'): v for k, v in m.items()})
    return m


def _records(aps, counts=(1, 20, 300)):
    return [
        dict(cat_id=i + 1, name=f'c{i}', frequency='rcf'[i],
             train_instance_count=n, ap=a)
        for i, (a, n) in enumerate(zip(aps, counts))
    ]


def _work_dir(root, name, ap, per_class=True, counts=True, segm=True):
    wd = root / name
    ts = wd / '20260101_000000'
    ts.mkdir(parents=True)
    # an older non-LVIS line first, like training logs
    (ts / '20260101_000000.json').write_text(
        json.dumps({'loss': 1.0}) + '\n' + json.dumps(_metrics(ap, segm)) +
        '\n')
    if per_class:
        recs = _records([ap, None, ap + 0.2])
        if not counts:
            for r in recs:
                r['train_instance_count'] = None
        data = {'bbox': recs}
        if segm:
            data['segm'] = recs
        (wd / 'per_class_ap.json').write_text(json.dumps(data))
    return wd


def test_table_and_png(tmp_path, capsys, monkeypatch):
    a = _work_dir(tmp_path, 'a', 0.3)
    b = _work_dir(tmp_path, 'b', 0.5)
    monkeypatch.chdir(tmp_path)
    assert cr.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert '| method | bbox AP | bbox APr | bbox APc | bbox APf | segm AP' in out
    assert '| a | 30.0 | 20.0 | 30.0 | 40.0 | 30.0 |' in out
    assert '| b | 50.0 | 40.0 | 50.0 | 60.0 |' in out
    png = tmp_path / 'compare_runs.png'
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:4] == b'\x89PNG'


def test_out_png_next_to_out_and_result_file(tmp_path, capsys):
    a = _work_dir(tmp_path, 'a', 0.3, segm=False)
    res = _work_dir(tmp_path, 'b', 0.5, segm=False) / '20260101_000000' / \
        '20260101_000000.json'
    out = tmp_path / 'rep' / 'table.md'
    cr.main([str(a), str(res), '--out', str(out)])
    text = out.read_text()
    assert 'segm' not in text and '| b | 50.0 |' in text
    assert (tmp_path / 'rep' / 'compare_runs.png').stat().st_size > 0
    # result file finds per_class_ap.json in its work dir
    assert cr.load_run(str(res))[1] == str(tmp_path / 'b' / 'per_class_ap.json')


def test_no_png_and_explicit_png(tmp_path, monkeypatch):
    a = _work_dir(tmp_path, 'a', 0.3)
    monkeypatch.chdir(tmp_path)
    cr.main([str(a), '--no-png'])
    assert not (tmp_path / 'compare_runs.png').exists()
    cr.main([str(a), '--out-png', str(tmp_path / 'x' / 'c.png'),
             '--names', 'A'])
    assert (tmp_path / 'x' / 'c.png').stat().st_size > 0


def test_group_aps_and_series(tmp_path):
    rows = [('a', _metrics(0.3, segm=False))]
    assert cr.group_aps(rows) == {
        'a': {'bbox APr': pytest.approx(0.2), 'bbox APc': 0.3,
              'bbox APf': pytest.approx(0.4)}}
    wd = _work_dir(tmp_path, 'a', 0.3, counts=False, segm=False)
    pc = str(wd / 'per_class_ap.json')
    series = cr.per_class_series([('a', pc)], {1: 5, 2: 50, 3: 500})
    assert series['bbox']['a'] == ([5, 50, 500], [0.3, None, 0.5])


def test_missing_counts_needs_train_ann(tmp_path):
    wd = _work_dir(tmp_path, 'a', 0.3, counts=False)
    with pytest.raises(ValueError, match='pass --train-ann'):
        cr.main([str(wd), '--out-png', str(tmp_path / 'c.png')])
    with pytest.raises(ValueError, match='not in the training annotations'):
        cr.per_class_series([('a', str(wd / 'per_class_ap.json'))], {1: 3})


def test_missing_inputs(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        cr.main([str(tmp_path / 'nope')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no LVIS evaluation result'):
        cr.main([str(tmp_path / 'empty')])
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'coco/bbox_mAP': 0.1}) + '\n')
    with pytest.raises(ValueError, match='no LVIS metrics'):
        cr.main([str(bad)])
    a = _work_dir(tmp_path, 'a', 0.3)
    with pytest.raises(SystemExit):
        cr.main([str(a), '--names', 'x', 'y'])
    assert 'one name per work dir' in capsys.readouterr().err


def test_run_without_per_class_warns(tmp_path, capsys):
    a = _work_dir(tmp_path, 'a', 0.3)
    b = _work_dir(tmp_path, 'b', 0.4, per_class=False)
    cr.main([str(a), str(b), '--out-png', str(tmp_path / 'c.png')])
    assert 'no per_class_ap.json for b' in capsys.readouterr().err
    assert (tmp_path / 'c.png').stat().st_size > 0
