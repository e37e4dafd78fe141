"""tools/gpu_check.sh and what it runs, on the CPU: the AMP checks of the
stateful losses (tools/benchmark/amp_losses.py) at small sizes, their
detection of a loss that computes in half precision, the script's
argument / environment handling (dry run), its refusal without CUDA, the
wheel list of tools/gpu_wheels.sh, and that every CUDA-only test carries
the ``cuda`` marker that the script selects."""
import ast
import glob
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmark'))
import amp_losses  # noqa: E402

SCRIPT = osp.join(ROOT, 'tools', 'gpu_check.sh')
WHEELS_SCRIPT = osp.join(ROOT, 'tools', 'gpu_wheels.sh')


def _bash(args, env=None, timeout=60):
    full = dict(os.environ)
    for k in ('MMLT_GPU_WHEELS', 'OUT', 'GPU_CHECK_DRY', 'GPU_CHECK_SKIP',
              'GPU_CHECK_BUDGET', 'MMCV_BUILD_JOBS'):
        full.pop(k, None)
    full.update(env or {})
    return subprocess.run(['bash'] + args, cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------ amp_losses
def test_amp_losses_small_cpu(tmp_path, capsys):
    out = tmp_path / 'amp.json'
    rc = amp_losses.main(['--device', 'cpu', '--small', '--steps', '2',
                          '--json', str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert 'result: PASS' in text
    res = json.loads(out.read_text())
    assert res['passed'] and res['device'] == 'cpu'
    rows = res['results']
    assert {(r['case'], r['dtype']) for r in rows} == {
        (c, d) for c in amp_losses.CASES for d in amp_losses.DTYPES}
    for r in rows:
        assert r['passed'], r
        assert r['finite']
        # the AMP run differs from fp32 (it did run in low precision) ...
        assert 0 < r['state_rel'] <= r['tol']
        # ... but the losses treat the rounded inputs exactly as fp32 ones
        assert r['replay_rel'] == 0.0
    eql = next(r for r in rows if r['case'] == 'eqlv2')
    assert eql['state_dtypes'] == dict(pos_grad='float64',
                                       neg_grad='float64',
                                       pos_neg='float64')
    bank = next(r for r in rows if r['case'] == 'bank')
    assert bank['state_dtypes']['storage'] == 'float16'


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_losses_detect_half_precision_loss(monkeypatch, dtype):
    """A loss that skips its fp32 cast (adds the margins in the logits'
    dtype) is caught by the fp32 replay of the same logits."""
    import mmlt.models.losses.equilibrium as ebl
    monkeypatch.setattr(ebl, 'compute_dtype', lambda x: x.dtype)
    rows = amp_losses.run_checks('cpu', steps=2, small=True, cases=['ebl'],
                                 dtypes=[dtype], quiet=True)
    (row, ) = rows
    assert not row['passed']
    text = ' '.join(row['problems'])
    assert 'fp32 replay' in text, text
    assert row['replay_rel'] > amp_losses.REPLAY_TOL


def test_amp_losses_compare_flags_nonfinite_and_dtype():
    def trace(v, state_dtype=torch.float64):
        t = amp_losses.Trace()
        t.loss = [torch.tensor(1.0)]
        t.grad = [torch.ones(3)]
        t.state = [{'pos_neg': torch.tensor([1.0, v], dtype=state_dtype)}]
        t.logit_dtype = torch.float16
        t.state_dtypes = {'pos_neg': state_dtype}
        t.expected_dtypes = {'pos_neg': torch.float64}
        return t

    ok = amp_losses.compare('eqlv2', trace(2.0), trace(2.0), trace(2.0),
                            'float16')
    assert ok['passed'], ok
    bad = amp_losses.compare('eqlv2', trace(2.0),
                             trace(math.inf, torch.float32), trace(2.0),
                             'float16')
    text = ' '.join(bad['problems'])
    assert not bad['passed']
    assert 'non-finite' in text and 'expected torch.float64' in text


def test_amp_losses_rel_diff():
    ref = torch.tensor([1.0, -4.0, 0.0])
    assert amp_losses.rel_diff(ref, ref) == 0.0
    assert amp_losses.rel_diff(ref + 0.04, ref) == pytest.approx(0.01)
    assert amp_losses.rel_diff(torch.zeros(2), torch.zeros(2)) == 0.0
    assert amp_losses.rel_diff(torch.ones(2), torch.zeros(2)) == math.inf
    assert amp_losses.rel_diff(torch.ones(3), torch.ones(2)) == math.inf


def test_amp_losses_bad_arguments():
    with pytest.raises(SystemExit):
        amp_losses.parse_args(['--cases', 'eqlv3'])
    with pytest.raises(SystemExit):
        amp_losses.parse_args(['--dtypes', 'float8'])


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU-only box')
def test_amp_losses_cuda_without_cuda():
    assert amp_losses.main(['--device', 'cuda', '--small']) == 2


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_amp_losses_cuda():
    rows = amp_losses.run_checks('cuda', steps=2, small=True, quiet=True)
    assert all(r['passed'] for r in rows), [
        (r['case'], r['dtype'], r['problems']) for r in rows
        if not r['passed']]


# ----------------------------------------------------------- gpu_check.sh
def _wheel_list():
    p = _bash([WHEELS_SCRIPT, '--list'])
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_gpu_wheels_list_one_version_each_and_covers_requirements():
    pkgs = _wheel_list()
    names = [re.split('==', p)[0].lower() for p in pkgs]
    assert all('==' in p for p in pkgs), pkgs
    assert len(names) == len(set(names)), pkgs
    assert 'torch' not in names and 'mmcv' not in names  # never carried
    # mmlt's runtime requirements: carried, or already in the image
    in_image = {'torch', 'mmcv', 'numpy', 'matplotlib', 'tqdm',
                'opencv-python', 'setuptools'}
    with open(osp.join(ROOT, 'requirements.txt')) as f:
        reqs = [re.split(r'[<>=!\s]', line.split('#')[0].strip())[0].lower()
                for line in f if line.split('#')[0].strip()]
    missing = [r for r in reqs if r not in in_image and r not in names]
    assert not missing, missing
    for dep in ('addict', 'termcolor', 'yapf', 'platformdirs', 'shapely',
                'terminaltables', 'pycocotools'):  # mmengine / mmdet deps
        assert dep in names


def test_gpu_check_dry_run_plan(tmp_path):
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    (wheels / 'mmcv-2.1.0.tar.gz').write_bytes(b'')
    out = tmp_path / 'out'
    p = _bash([SCRIPT, '--dry-run'],
              env=dict(MMLT_GPU_WHEELS=str(wheels), OUT=str(out),
                       PYTHON='/no/such/python', GPU_CHECK_SKIP='train',
                       GPU_CHECK_BUDGET='300', MMCV_BUILD_JOBS='3'))
    assert p.returncode == 0, p.stderr
    text = p.stdout
    assert 'dry run' in text
    assert f'wheels:      {wheels} (offline' in text
    assert f'mmcv sdist:  {wheels}/mmcv-2.1.0.tar.gz' in text
    assert 'python:      /no/such/python' in text
    assert f'OUT:         {out}' in text
    assert 'budget:      300 s; build jobs 3' in text
    assert 'step train: skipped' in text
    assert ' '.join(_wheel_list()) in text
    assert 'tests/test_models/test_layers/test_memory_bank.py' in text
    assert 'tests/test_tools/test_gpu_check.py' in text
    assert '--device cuda --iters 30' in text
    assert not out.exists()  # a dry run writes nothing
    # GPU_CHECK_DRY=1 is the same; without wheels: PyPI
    p = _bash([SCRIPT], env=dict(GPU_CHECK_DRY='1', OUT=str(out)))
    assert p.returncode == 0, p.stderr
    assert 'none (pip from PyPI)' in p.stdout


def test_gpu_check_missing_sdist_is_reported(tmp_path):
    p = _bash([SCRIPT, '--dry-run'], env=dict(MMLT_GPU_WHEELS=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    assert 'mmcv sdist:  MISSING' in p.stdout


@pytest.mark.parametrize('args,env,msg', [
    (['--bogus'], {}, "unknown argument '--bogus'"),
    ([], dict(MMLT_GPU_WHEELS='/no/such/dir'), 'is not a directory'),
    ([], dict(GPU_CHECK_SKIP='amp,bogus'), "unknown step 'bogus'"),
    ([], dict(GPU_CHECK_BUDGET='8min'), 'GPU_CHECK_BUDGET must be seconds'),
    ([], dict(GPU_CHECK_DRY='yes'), 'GPU_CHECK_DRY must be 0 or 1'),
    ([], dict(MMCV_BUILD_JOBS='0'), 'MMCV_BUILD_JOBS must be'),
])
def test_gpu_check_bad_arguments(args, env, msg):
    p = _bash([SCRIPT] + args, env=env)
    assert p.returncode == 2
    assert msg in p.stderr


def test_gpu_check_help():
    p = _bash([SCRIPT, '--help'])
    assert p.returncode == 0
    assert 'MMLT_GPU_WHEELS' in p.stdout and 'GPU_CHECK_BUDGET' in p.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU-only box')
def test_gpu_check_refuses_without_cuda(tmp_path):
    out = tmp_path / 'out'
    p = _bash([SCRIPT], env=dict(PYTHON=sys.executable, OUT=str(out)),
              timeout=120)
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert 'no CUDA device' in p.stderr
    assert 'sees no CUDA device' in p.stderr  # torch's own answer
    assert not out.exists()  # nothing installed or written
    p = _bash([SCRIPT], env=dict(PYTHON='/no/such/python', OUT=str(out)))
    assert p.returncode == 2 and 'not found' in p.stderr


@pytest.mark.slow
def test_gpu_check_cpu_plumbing(tmp_path):
    """The whole script on the CPU (GPU_CHECK_DEVICE=cpu, this venv, no
    install): steps, logs, summary and exit status."""
    out = tmp_path / 'out'
    p = _bash([SCRIPT], env=dict(GPU_CHECK_DEVICE='cpu',
                                 GPU_CHECK_SKIP='install',
                                 PYTHON=sys.executable, OUT=str(out),
                                 MMLT_SITE=str(tmp_path / 'site')),
              timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    for step in ('env', 'mmcv', 'amp', 'tests', 'train'):
        assert f'=== [{step}]' in p.stdout or step == 'train'
    assert 'result: PASS' in p.stdout
    summary = json.loads((out / 'summary.json').read_text())
    status = {s['step']: s['status'] for s in summary['steps']}
    assert status == dict(env='ok', install='skip', mmcv='ok', amp='ok',
                          tests='ok', train='skip'), summary
    assert summary['passed'] and summary['device'] == 'cpu'
    files = sorted(os.listdir(out))
    assert len(files) <= 8, files  # what the device tool brings back
    assert json.loads((out / 'amp_losses.json').read_text())['passed']
    assert (out / 'gpu_check.log').read_text().rstrip().endswith(
        'result: PASS')
    assert 'skipped' in (out / 'cuda_tests.log').read_text()


# ------------------------------------------------------------ the marker
def test_cuda_only_tests_are_marked_cuda():
    """gpu_check.sh runs ``-m cuda``: a test that skips itself without
    CUDA but lacks the marker would never run there."""
    unmarked = []
    for path in glob.glob(osp.join(ROOT, 'tests', '**', 'test_*.py'),
                          recursive=True):
        src = open(path).read()
        if 'cuda' not in src:
            continue
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            decos = [ast.get_source_segment(src, d) or ''
                     for d in node.decorator_list]
            needs = any('skipif' in d and re.search(
                r'not\s+torch\.cuda\.is_available\(\)', d) for d in decos)
            if needs and not any('mark.cuda' in d for d in decos):
                unmarked.append(f'{osp.relpath(path, ROOT)}::{node.name}')
    assert not unmarked, unmarked
