"""tools/benchmark/run_all.py: discovery of the benchmark configs, the run
plan, the commands it issues and the table/doc it writes."""
import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'run_all', osp.join(ROOT, 'tools', 'benchmark', 'run_all.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ra = _load_tool()


def _write(d, name, body):
    (d / f'{name}.py').write_text(body)


def _cfg(name, **kw):
    items = ', '.join(f'{k}={v!r}' for k, v in kw.items())
    return f"x = 1\nbenchmark = dict(name={name!r}{', ' if items else ''}" \
           f"{items})\n"


@pytest.fixture
def cfg_dir(tmp_path):
    d = tmp_path / 'bench'
    d.mkdir()
    _write(d, 'base', _cfg('Base', order=0))
    _write(d, 'b_method', _cfg('B', order=20, baseline='base'))
    _write(d, 'a_method', _cfg('A', order=10, baseline='base'))
    _write(d, 'stage2', _cfg('S2', order=5, stage1='a_method',
                             baseline='base'))
    _write(d, 'post', _cfg('P', order=30, stage1='base', baseline='base',
                           posthoc=['tool.py', '{stage1}', '--out', '{out}'],
                           eval=['bbox']))
    return d


def test_repo_benchmark_configs_cover_every_method():
    methods = ra.discover(osp.join(ROOT, 'configs', 'benchmark'))
    names = [m.name for m in methods.values()]
    assert len(set(names)) == len(names)
    for need in ('CE', 'RFS', 'EQL', 'EQL + RFS', 'EQLv2', 'Seesaw', 'BAGS',
                 'cRT', 'LWS', 'τ-norm', 'LOCE (EBL + MFS)', 'EFL', 'EQFL'):
        assert need in names
    by_name = {m.name: m for m in methods.values()}
    # decoupled rows start from the CE row, LOCE from its own stage 1
    for n in ('cRT', 'LWS', 'τ-norm', 'BAGS'):
        assert by_name[n].stage1 == 'ce'
    assert by_name['LOCE (EBL + MFS)'].stage1 == 'loce_stage1'
    assert by_name['τ-norm'].posthoc is not None
    # box-only detectors are compared with their own loss's baseline
    assert by_name['EFL'].baseline == 'retinanet_focal'
    assert by_name['EQFL'].baseline == 'gfl_qfl'
    assert by_name['EFL'].eval == ['bbox']
    rows = ra.run_order(ra.plan(methods), methods)
    pos = {m.key: i for i, m in enumerate(rows)}
    for m in rows:
        if m.stage1:
            assert pos[m.stage1] < pos[m.key]


def test_plan_orders_rows_and_runs_stage1_first(cfg_dir):
    methods = ra.discover(str(cfg_dir))
    rows = ra.plan(methods)
    assert [m.key for m in rows] == ['base', 'stage2', 'a_method',
                                     'b_method', 'post']
    order = ra.run_order(rows, methods)
    # stage2 (order 5) needs a_method (order 10) trained first
    assert [m.key for m in order] == ['base', 'a_method', 'stage2',
                                      'b_method', 'post']


def test_only_pulls_in_stage1_and_baseline(cfg_dir):
    methods = ra.discover(str(cfg_dir))
    assert [m.key for m in ra.plan(methods, ['stage2'])] == [
        'base', 'stage2', 'a_method']
    with pytest.raises(ValueError, match='nope'):
        ra.plan(methods, ['nope'])


@pytest.mark.parametrize('body,match', [
    ("benchmark = dict(model='x')\n", 'benchmark.name is required'),
    ("x = 1\n", 'has no `benchmark'),
    (_cfg('X', stage1='missing'), "stage1='missing' is not a config"),
    (_cfg('X', baseline='missing'), "baseline='missing' is not a config"),
    (_cfg('X', colour='red'), "unknown benchmark keys \\['colour'\\]"),
    (_cfg('X', eval=['keypoints']), 'benchmark.eval'),
    (_cfg('X', posthoc=['t.py']), 'posthoc row needs benchmark.stage1'),
])
def test_bad_configs_are_named(tmp_path, body, match):
    _write(tmp_path, 'base', _cfg('Base'))
    _write(tmp_path, 'bad', body)
    with pytest.raises(ValueError, match=match) as e:
        ra.discover(str(tmp_path))
    if 'unknown' in match or 'required' in match:
        assert 'bad.py' in str(e.value)


def test_stage1_cycle_and_empty_dir(tmp_path):
    _write(tmp_path, 'a', _cfg('A', stage1='b'))
    _write(tmp_path, 'b', _cfg('B', stage1='a'))
    methods = ra.discover(str(tmp_path))
    with pytest.raises(ValueError, match='cycle: a -> b -> a'):
        ra.plan(methods)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='no benchmark configs'):
        ra.discover(str(empty))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ra.discover(str(tmp_path / 'missing'))


def _fake_work_dir(out, key, apr, eval_types=('bbox', 'segm'), ap=0.3):
    ts = out / key / '20260101_000000'
    ts.mkdir(parents=True)
    rec = {}
    for t in eval_types:
        rec.update({f'lvis/{t}_AP': ap, f'lvis/{t}_APr': apr,
                    f'lvis/{t}_APc': 0.4, f'lvis/{t}_APf': 0.5})
    (ts / '20260101_000000.json').write_text(json.dumps(rec) + '\n')
    (out / key / 'benchmark_run.json').write_text(
        json.dumps({'train_s': 120.0, 'test_s': 30.0}))


def test_table_gains_and_doc(cfg_dir, tmp_path):
    methods = ra.discover(str(cfg_dir))
    rows = ra.plan(methods)
    out = tmp_path / 'runs'
    aprs = dict(base=0.10, stage2=0.25, a_method=0.10, b_method=0.05,
                post=0.125)
    for k, v in aprs.items():
        _fake_work_dir(out, k, v, methods[k].eval)
    results = ra.result_rows(rows, str(out), methods)
    table = ra.markdown_table(results)
    lines = table.splitlines()
    assert lines[0].startswith('| method | model / recipe | bbox AP')
    by = {ln.split(' | ')[0][2:]: ln for ln in lines[2:]}
    assert by['S2'].split(' | ')[2:6] == ['30.0', '25.0', '40.0', '50.0']
    assert '+15.0 (Base)' in by['S2']
    assert '-5.0 (Base)' in by['B']
    assert '+2.5 (Base)' in by['P']
    # box-only row: segm columns are dashes, not zeros
    assert by['P'].split(' | ')[6:10] == ['–'] * 4
    assert by['Base'].split(' | ')[10] == '–'  # no baseline
    assert by['Base'].rstrip(' |').endswith('2.0')  # 120 s of training
    # equal APr is not a gain
    assert ra.no_gain(results) == ['A (10.0 vs Base 10.0)',
                                   'B (5.0 vs Base 10.0)']

    doc = tmp_path / 'bench.md'
    doc.write_text('# Title\n\nintro\n\n' + ra.BEGIN + '\nold\n' + ra.END +
                   '\n\n## Discussion\nkept\n')
    section = ra.generated_section(results, 'python run_all.py', 2, 60.0, 1)
    ra.write_doc(str(doc), section)
    text = doc.read_text()
    assert text.startswith('# Title\n\nintro\n\n' + ra.BEGIN)
    assert 'old' not in text and text.endswith('## Discussion\nkept\n')
    assert 'do not beat their baseline on bbox APr: A (10.0' in text
    assert 'Command: `python run_all.py`' in text
    # 5 runs x 150 s; one trained by this invocation
    assert '12 min of training and testing summed over the 5 runs' in text
    assert 'took 1 min and trained 1 of them' in text
    assert 'every run was reused' in ra.generated_section(
        results, 'python run_all.py', 2, 1.0, 0)
    # a doc without markers gets the section appended; one marker is an error
    fresh = tmp_path / 'new.md'
    ra.write_doc(str(fresh), section)
    assert fresh.read_text().startswith('# Benchmark')
    broken = tmp_path / 'broken.md'
    broken.write_text(ra.BEGIN + '\n')
    with pytest.raises(ValueError, match='only one of'):
        ra.write_doc(str(broken), section)


def test_missing_evaluation_names_the_run(cfg_dir, tmp_path):
    methods = ra.discover(str(cfg_dir))
    with pytest.raises(FileNotFoundError, match='base'):
        ra.result_rows(ra.plan(methods, ['base']), str(tmp_path), methods)


def test_execute_commands_and_resume(cfg_dir, tmp_path, monkeypatch):
    """Stage-2 rows get the stage-1 checkpoint as load_from, post-hoc rows
    run their command with it, trained rows are not retrained."""
    methods = ra.discover(str(cfg_dir))
    calls = []

    def fake_sh(cmd, log_file):
        calls.append(cmd)
        if 'dist_train.sh' in cmd[0]:
            wd = cmd[cmd.index('--work-dir') + 1]
            ckpt = osp.join(wd, 'epoch_1.pth')
            open(ckpt, 'w').close()
            with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
                f.write(ckpt)
        elif 'dist_test.sh' in cmd[0]:
            wd = cmd[cmd.index('--work-dir') + 1]
            _fake_work_dir_at(wd)
        else:  # post hoc tool: writes --out
            open(cmd[cmd.index('--out') + 1], 'w').close()
        return 1.5

    def _fake_work_dir_at(wd):
        import os
        os.makedirs(osp.join(wd, 'ts'), exist_ok=True)
        with open(osp.join(wd, 'ts', 'ts.json'), 'w') as f:
            f.write(json.dumps({'lvis/bbox_AP': 0.1}) + '\n')

    monkeypatch.setattr(ra, '_sh', fake_sh)
    out = str(tmp_path / 'runs')
    ckpts = {}
    assert all(ra.execute(m, out, 3, ckpts, force=False)
               for m in ra.run_order(ra.plan(methods), methods))
    train = {c[c.index('--work-dir') + 1].split('/')[-1]: c
             for c in calls if 'dist_train.sh' in c[0]}
    assert set(train) == {'base', 'a_method', 'b_method', 'stage2'}
    assert train['base'][2] == '3' and '--cfg-options' not in train['base']
    assert train['stage2'][-1] == \
        f'load_from={osp.join(out, "a_method", "epoch_1.pth")}'
    post = [c for c in calls if c[1] == 'tool.py'][0]
    assert post[2] == osp.join(out, 'base', 'epoch_1.pth')
    assert post[4] == osp.join(out, 'post', 'post.pth')
    test_post = [c for c in calls if 'dist_test.sh' in c[0]
                 and c[2] == post[4]][0]
    assert test_post[-2:] == ['--eval', 'bbox']
    with open(osp.join(out, 'stage2', 'benchmark_run.json')) as f:
        assert json.load(f) == {'train_s': 1.5, 'test_s': 1.5}
    # second invocation: everything trained and evaluated -> no commands
    calls.clear()
    ckpts = {}
    assert not any(ra.execute(m, out, 3, ckpts, force=False)
                   for m in ra.run_order(ra.plan(methods), methods))
    assert calls == []
    assert ckpts['a_method'] == osp.join(out, 'a_method', 'epoch_1.pth')
