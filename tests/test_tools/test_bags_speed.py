"""tools/benchmark/bags_speed.py runs (tiny sizes; timings not checked)."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_bags_speed_runs(capsys):
    spec = importlib.util.spec_from_file_location(
        'bags_speed', osp.join(ROOT, 'tools', 'benchmark', 'bags_speed.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # LVIS-like counts keep all four bins at any size
    assert len(mod.lvis_v1_like_counts(40)) == 40
    out = mod.main([
        '--rois', '64', '--classes', '40', '--warmup', '0', '--repeats', '1',
        '--iters', '1'
    ])
    assert set(out) == {'ce', 'bags', 'softmax', 'merge'}
    assert all(t > 0 for t in out.values())
    text = capsys.readouterr().out
    assert 'ratio' in text and 'groups 5' in text
