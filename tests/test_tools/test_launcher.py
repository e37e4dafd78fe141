"""tools/dist_train.sh / dist_test.sh faults (issue 17).

* Ctrl-C (SIGINT to the launcher's process group), SIGTERM to the launcher
  alone and SIGKILL of the launcher stop every worker and data-loader
  process within seconds; nothing writes a checkpoint afterwards; the
  launcher exits 128 + signal.
* Two runs started together on one machine with PORT unset both train;
  a PORT that is in use is named in a one-line error.
* Argument errors (missing config / checkpoint, bad NUM_PROCS, unknown
  option, ...) are one message and exit 2 before any process starts; the
  same checks in tools/train.py / tools/test.py without the launcher.
* The launcher's copy of the tools' argparse equals the tools' own.
"""
import argparse
import importlib.util
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PY, ROOT, TOY_CONFIG, toy_cfg_options

TRAIN_SH = osp.join(ROOT, 'tools', 'dist_train.sh')
TEST_SH = osp.join(ROOT, 'tools', 'dist_test.sh')
DIST_ENV = ('PORT', 'NNODES', 'NODE_RANK', 'MASTER_ADDR', 'MASTER_PORT',
            'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MMLT_LAUNCHER_PID')


def _env(**over):
    env = {k: v for k, v in os.environ.items() if k not in DIST_ENV}
    env.update(OMP_NUM_THREADS='1', PYTHON=PY)
    env.update(over)
    return env


def _run(args, timeout=60, **env):
    return subprocess.run(args, cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------- argument errors

ERRORS = [
    # (script, args, env, words the one-line message must contain)
    (TRAIN_SH, ['missing.py', '2'], {}, ['config file missing.py',
                                        'does not exist']),
    (TRAIN_SH, [TOY_CONFIG, 'x'], {}, ['NUM_PROCS', "'x'"]),
    (TRAIN_SH, [TOY_CONFIG, '0'], {}, ['NUM_PROCS', "'0'"]),
    (TRAIN_SH, [TOY_CONFIG, '1.5'], {}, ['NUM_PROCS', "'1.5'"]),
    (TRAIN_SH, [TOY_CONFIG, '2', '--resume', 'nope.pth'], {},
     ['--resume checkpoint nope.pth', 'does not exist']),
    (TRAIN_SH, [TOY_CONFIG, '2', '--launcher', 'slurm'], {},
     ['--launcher is set by dist_train.sh itself']),
    (TRAIN_SH, [TOY_CONFIG, '2'], {'NNODES': 'two'}, ["NNODES='two'"]),
    (TRAIN_SH, [TOY_CONFIG, '2'], {'NNODES': '2', 'NODE_RANK': '2'},
     ['NODE_RANK=2', 'NNODES=2']),
    (TRAIN_SH, [TOY_CONFIG, '2'], {'PORT': 'http'}, ["PORT='http'"]),
    (TRAIN_SH, [TOY_CONFIG, '2'], {'PORT': '70000'}, ['PORT=70000']),
    (TEST_SH, [TOY_CONFIG, 'nope.pth', '2'], {},
     ['checkpoint nope.pth', 'does not exist']),
    (TEST_SH, [TOY_CONFIG, TOY_CONFIG, '2', '--out', 'preds.json'], {},
     ['--out preds.json', '.pkl']),
    (TEST_SH, ['configs', TOY_CONFIG, '2'], {},
     ['config file configs', 'not a file']),
]


@pytest.mark.parametrize('script,args,env,words', ERRORS)
def test_argument_error_is_one_message(script, args, env, words):
    t0 = time.time()
    proc = _run(['bash', script] + args, **env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ''
    lines = proc.stderr.strip().splitlines()
    name = osp.basename(script)
    assert len(lines) == 1 and lines[0].startswith(f'{name}: error: '), \
        proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    # decided before torch is imported or any worker starts
    assert time.time() - t0 < 20


@pytest.mark.parametrize('script,args,want', [
    (TRAIN_SH, [TOY_CONFIG, '2', '--no-such-option'],
     'unrecognized arguments: --no-such-option'),
    (TEST_SH, [TOY_CONFIG, TOY_CONFIG, '2', '--eval', 'bbox', 'keypoints'],
     "unknown iou type(s) ['keypoints']"),
])
def test_tool_option_errors_use_the_tools_usage(script, args, want):
    proc = _run(['bash', script] + args)
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    tool = 'train.py' if script == TRAIN_SH else 'test.py'
    assert proc.stderr.startswith(f'usage: {tool}')
    assert proc.stderr.count('usage:') == 1 and want in proc.stderr


@pytest.mark.parametrize('script,nargs', [(TRAIN_SH, 1), (TEST_SH, 2)])
def test_too_few_arguments(script, nargs):
    proc = _run(['bash', script] + [TOY_CONFIG, '2'][:nargs])
    assert proc.returncode == 2 and 'usage:' in proc.stderr


def test_busy_port_names_port():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        proc = _run(['bash', TRAIN_SH, TOY_CONFIG, '2'], PORT=str(port))
    finally:
        s.close()
    assert proc.returncode == 2
    line, = proc.stderr.strip().splitlines()
    assert f'PORT={port} is already in use' in line
    assert 'unset PORT' in line


def test_failure_summary():
    """torchrun's failure table becomes one line on the first failure."""
    from types import SimpleNamespace as NS

    from mmlt.utils.launch_guard import failure_summary
    failures = {
        0: NS(pid=11, exitcode=-15, timestamp=5),
        3: NS(pid=14, exitcode=1, timestamp=2),
    }
    assert failure_summary(failures, 4) == (
        'rank 3 (pid 14) exited with code 1, the first of the 4 processes '
        'on this machine to fail (the others were stopped); its error is '
        'printed above (lines [rank3]: ...)')
    oom = failure_summary({1: NS(pid=7, exitcode=-9, timestamp=1)}, 2)
    assert oom.startswith('rank 1 (pid 7) was killed by SIGKILL (out of '
                          'memory? see dmesg)')


@pytest.mark.dist
def test_worker_error_ends_with_one_line(toy_lvis_root):
    """An error the checks cannot see (a config key) still fails every
    rank; the launcher's last word is one line naming the first one, not
    torchrun's traceback and table."""
    proc = _run(['bash', TRAIN_SH, TOY_CONFIG, '2'] +
                toy_cfg_options(toy_lvis_root) + ['model.no_such_key=1'],
                timeout=300)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r'dist_train\.sh: error: rank [01] \(pid \d+\) exited with code 1, '
        r'the first of the 2 processes .*\(lines \[rank[01]\]: \.\.\.\)',
        last), last
    assert "unexpected keyword argument 'no_such_key'" in proc.stderr
    assert 'ChildFailedError' not in proc.stderr


def test_slurm_jobs_get_their_own_port(monkeypatch):
    """Two Slurm jobs on one node: mmengine would give both port 29500."""
    from mmlt.utils.launch import slurm_master_port
    monkeypatch.delenv('MASTER_PORT', raising=False)
    monkeypatch.setenv('SLURM_JOB_ID', '4123456')
    slurm_master_port()
    assert os.environ['MASTER_PORT'] == '23456'
    monkeypatch.setenv('SLURM_JOB_ID', '4123457')
    slurm_master_port()  # a port that is set is kept
    assert os.environ['MASTER_PORT'] == '23456'
    monkeypatch.delenv('MASTER_PORT')
    slurm_master_port()
    assert os.environ['MASTER_PORT'] == '23457'


SLURM_TRAIN = osp.join(ROOT, 'tools', 'slurm_train.sh')
SLURM_TEST = osp.join(ROOT, 'tools', 'slurm_test.sh')


@pytest.mark.parametrize('script,args,env,want', [
    (SLURM_TRAIN, ['p', 'j', 'missing.py', 'w'], {},
     'slurm_train.sh: error: config file missing.py does not exist'),
    (SLURM_TEST, ['p', 'j', TOY_CONFIG, 'nope.pth'], {},
     'slurm_test.sh: error: checkpoint nope.pth does not exist'),
    (SLURM_TRAIN, ['p', 'j', TOY_CONFIG, 'w'], {'GPUS': 'eight'},
     "slurm_train.sh: error: GPUS='eight' must be a positive integer"),
    (SLURM_TEST, ['p', 'j', TOY_CONFIG, TOY_CONFIG], {'CPUS_PER_TASK': '0'},
     "slurm_test.sh: error: CPUS_PER_TASK='0' must be a positive integer"),
    (SLURM_TRAIN, ['p', 'j', TOY_CONFIG, 'w', '--bogus'], {},
     'train.py: error: unrecognized arguments: --bogus'),
])
def test_slurm_argument_errors_before_srun(script, args, env, want,
                                           tmp_path):
    """A mistake must not queue a job of N GPUs that fails in every task."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    stub = bindir / 'srun'
    stub.write_text(f'#!/bin/sh\ntouch {tmp_path}/srun_ran\n')
    stub.chmod(0o755)
    proc = _run(['bash', script] + args,
                PATH=f'{bindir}:{os.environ["PATH"]}', **env)
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / 'srun_ran').exists()
    assert 'Traceback' not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ': error: ' in ln]
    assert len(errors) == 1 and errors[0].startswith(want), proc.stderr


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'_mmlt_tool_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('tool,argv', [
    ('train', ['c.py']),
    ('train', ['c.py', '--resume', '--amp', '--work-dir', 'w', '--eval',
               'bbox', '--cfg-options', 'a.b=1', 'c=[1, 2]',
               '--launcher', 'pytorch']),
    ('train', ['c.py', '--resume', 'x.pth', '--no-validate',
               '--auto-scale-lr', '--local-rank', '1']),
    ('test', ['c.py', 'k.pth', '--out', 'p.pkl', '--show-dir', 's',
              '--eval', 'bbox', 'segm', '--cfg-options', 'x=2']),
])
def test_launcher_parses_like_the_tool(tool, argv, monkeypatch):
    """The launcher parses with mmlt/utils/tool_args.py loaded by path (the
    tool's imports take seconds); it must give the tool's own result."""
    from mmlt.utils.launch_guard import parse_tool_args
    script = osp.join(ROOT, 'tools', f'{tool}.py')
    got = parse_tool_args(script, argv)
    monkeypatch.setattr(sys, 'argv', [f'{tool}.py'] + argv)
    want = _load_tool(tool).parse_args()
    assert got is not None and vars(got) == vars(want)


def test_train_py_without_launcher_missing_config():
    """tools/train.py alone checks the same before building anything."""
    proc = _run([PY, 'tools/train.py', 'missing.py'])
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ': error: ' in ln]
    assert errors == ['train.py: error: config file missing.py does not '
                      f'exist (relative to {ROOT})'], proc.stderr


@pytest.mark.parametrize('args,words', [
    (dict(config=TOY_CONFIG, checkpoint='nope.pth'),
     ['checkpoint nope.pth does not exist']),
    (dict(config=TOY_CONFIG, launcher='pytorch'),
     ['--launcher pytorch', 'RANK, WORLD_SIZE', 'dist_train.sh']),
    (dict(config=TOY_CONFIG, launcher='slurm'),
     ['--launcher slurm', 'SLURM_PROCID', 'slurm_train.sh']),
    (dict(config=TOY_CONFIG, launcher='mpi'),
     ['--launcher mpi', 'OMPI_COMM_WORLD_RANK', 'mpirun']),
    (dict(config=TOY_CONFIG, work_dir=TOY_CONFIG),
     ['--work-dir', 'not a directory']),
    (dict(config=TOY_CONFIG, eval=['bbox', 'mask']), ["['mask']"]),
])
def test_load_config_checks(args, words, capsys, monkeypatch):
    """What tools/train.py, tools/test.py (and tools/analysis/
    eval_results.py) see through load_config without the launcher."""
    from mmlt.utils.launch import load_config
    for k in DIST_ENV + ('SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(sys, 'argv', ['tools/test.py'])
    full = dict(launcher='none', local_rank=0, cfg_options=None,
                work_dir=None, eval=None)
    full.update(args)
    with pytest.raises(SystemExit) as e:
        load_config(argparse.Namespace(**full))
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('test.py: error: ') and '\n' not in err
    for w in words:
        assert w in err, err


# ------------------------------------------------------------- signals

GUARD = osp.join(ROOT, 'mmlt', 'utils', 'launch_guard.py')

# A worker that swallows Ctrl-C, with a multiprocessing child (a data
# loader) that has a child of its own.
WORKER = r"""
import multiprocessing as mp, os, time
def loader(q):
    g = mp.get_context('fork').Process(target=time.sleep, args=(600,))
    g.start()
    q.put(g.pid)
    time.sleep(600)
if __name__ == '__main__':
    q = mp.get_context('fork').Queue()
    p = mp.get_context('fork').Process(target=loader, args=(q,))
    p.start()
    print(os.getpid(), p.pid, q.get(), flush=True)
    while True:
        try:
            time.sleep(600)
        except KeyboardInterrupt:
            pass
"""

# torchrun's part: the worker in its own session, the launcher's pid set
LAUNCHER = r"""
import os, subprocess, sys, time
os.environ['MMLT_LAUNCHER_PID'] = str(os.getpid())
w = subprocess.Popen([sys.executable, sys.argv[1], 'worker', sys.argv[2]],
                     start_new_session=True, stdout=subprocess.PIPE,
                     text=True)
print(w.stdout.readline().strip(), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize('how', ['launcher SIGKILL', 'SIGINT to worker'])
def test_worker_guard(how, tmp_path):
    """The worker entry point alone (no torch, a second): SIGINT stops a
    worker whose code swallows KeyboardInterrupt, and the launcher's death
    stops the worker; both with their multiprocessing children."""
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    launcher = subprocess.Popen(
        [sys.executable, '-c', LAUNCHER, GUARD, str(script)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    pids = []
    try:
        pids = [int(p) for p in launcher.stdout.readline().split()]
        assert len(pids) == 3 and all(_alive(p) for p in pids)
        time.sleep(0.5)
        assert all(_alive(p) for p in pids)  # children were not harmed
        if how == 'launcher SIGKILL':
            os.kill(launcher.pid, signal.SIGKILL)
        else:
            os.killpg(pids[0], signal.SIGINT)  # what torchrun forwards
        end = time.time() + 5
        while any(_alive(p) for p in pids) and time.time() < end:
            time.sleep(0.05)
        assert not [p for p in pids if _alive(p)]
    finally:
        launcher.kill()
        launcher.wait()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass



def _children():
    """ppid -> [pid] of every process now."""
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _descendants(pid):
    kids, out, todo = _children(), [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


class Run:
    """tools/dist_train.sh with 2 CPU processes training the toy config
    for ever (1-image batches, a checkpoint every 4-iteration epoch) in
    its own session, as a shell job would be."""

    def __init__(self, root, tmp_path, name, nprocs=2, **env):
        self.work = str(tmp_path / name)
        self.log_path = str(tmp_path / f'{name}.log')
        opts = toy_cfg_options(root, n_train=8, epochs=1000, extra=[
            'train_dataloader.batch_size=1',
            # the toy config's data loading: a persistent worker process
            'train_dataloader.num_workers=1',
            'train_dataloader.persistent_workers=True',
            'train_cfg.val_interval=1000',
            'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=1',
        ])
        self.nprocs = nprocs
        with open(self.log_path, 'w') as log:
            self.proc = subprocess.Popen(
                ['bash', TRAIN_SH, TOY_CONFIG, str(nprocs), '--work-dir',
                 self.work] + opts, cwd=ROOT, env=_env(**env), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_training(self, timeout=300):
        """Until an iteration is logged and every worker has its
        data-loader process; return all processes under the launcher."""
        end = time.time() + timeout
        while time.time() < end:
            assert self.proc.poll() is None, self.log()[-4000:]
            if 'Epoch(train)' in self.log():
                kids = _children()
                workers = kids.get(self.proc.pid, [])
                if len(workers) == self.nprocs and all(
                        kids.get(w) for w in workers):
                    return _descendants(self.proc.pid)
            time.sleep(0.2)
        raise AssertionError('no training within the timeout:\n' +
                             self.log()[-4000:])

    def kill(self):
        for p in [self.proc.pid] + _descendants(self.proc.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait()


def _files(work):
    return {
        f: (os.stat(osp.join(work, f)).st_mtime, os.stat(
            osp.join(work, f)).st_size)
        for f in os.listdir(work) if f.endswith('.pth')
    }


def _stop(run, pids, send, limit=5.0):
    """Send the signal; assert every process is gone within ``limit``
    seconds and no checkpoint appears or changes afterwards. Returns the
    launcher's exit code."""
    t0 = time.time()
    send()
    alive = set(pids)
    while alive and time.time() - t0 < limit:
        alive = {p for p in alive if _alive(p)}
        time.sleep(0.05)
    gone_after = time.time() - t0
    assert not alive, (f'{sorted(alive)} still running {limit} s after the '
                       f'signal\n' + run.log()[-3000:])
    before = _files(run.work)
    assert all(m <= time.time() for m, _ in before.values())
    try:
        rc = run.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise AssertionError('launcher still running:\n' + run.log()[-3000:])
    time.sleep(4)  # longer than a toy epoch (4 iterations)
    assert _files(run.work) == before
    print(f'{len(pids)} processes gone {gone_after:.2f} s after the '
          f'signal, launcher exit {rc}')
    return rc


@pytest.mark.dist
def test_two_runs_start_and_stop_on_ctrl_c_and_sigterm(toy_lvis_root,
                                                        tmp_path):
    """PORT unset: two runs on this machine both train; Ctrl-C (SIGINT to
    the launcher's process group, what a terminal sends) stops one,
    SIGTERM to the launcher process alone the other."""
    a = Run(toy_lvis_root, tmp_path, 'a')
    b = Run(toy_lvis_root, tmp_path, 'b')
    try:
        pids_a = a.wait_training()
        pids_b = b.wait_training()
        assert len(pids_a) == len(pids_b) == 4  # 2 workers + 2 loaders
        assert 'EADDRINUSE' not in a.log() + b.log()
        rc = _stop(a, pids_a, lambda: os.killpg(a.proc.pid, signal.SIGINT))
        assert rc == 128 + signal.SIGINT
        assert 'dist_train.sh: stopped by SIGINT' in a.log()
        assert b.proc.poll() is None  # the other run is not touched
        rc = _stop(b, pids_b, lambda: os.kill(b.proc.pid, signal.SIGTERM))
        assert rc == 128 + signal.SIGTERM
        assert 'dist_train.sh: stopped by SIGTERM' in b.log()
    finally:
        a.kill()
        b.kill()


@pytest.mark.dist
def test_workers_die_with_the_launcher(toy_lvis_root, tmp_path):
    """SIGKILL (or the OOM killer) gives the launcher no chance to pass a
    signal on; the workers and their data-loader processes must still
    stop, not train on as orphans."""
    run = Run(toy_lvis_root, tmp_path, 'k')
    try:
        pids = run.wait_training()
        rc = _stop(run, pids, lambda: os.kill(run.proc.pid, signal.SIGKILL))
        assert rc == -signal.SIGKILL
    finally:
        run.kill()
