"""The launcher of ``tools/dist_train.sh`` / ``tools/dist_test.sh``.

``python mmlt/utils/launch_guard.py launch SCRIPT NUM_PROCS [args...]``
(what ``tools/dist_launch.sh`` runs) does, in one process:

1. checks the arguments before any worker starts (``NUM_PROCS``, the
   tool's own argparse options, the config and checkpoint files, ``PORT``),
   so a mistake is one message and exit 2 instead of one traceback per rank;
2. picks a free port on a single machine when ``PORT`` is unset (torchrun's
   ``--standalone`` rendezvous), so two runs on one machine do not collide;
3. runs torchrun (``torch.distributed.run``) in this process, with every
   worker started through ``launch_guard.py worker`` (below); Ctrl-C,
   SIGTERM or SIGHUP stop all workers and exit with 128 + the signal.

``launch_guard.py worker SCRIPT [args...]`` is each worker's entry point:
it makes SIGINT kill the worker like SIGTERM does, makes the worker and its
data-loader processes die with the launcher (``PR_SET_PDEATHSIG``), then
runs ``SCRIPT`` as ``__main__``.

Standard library only (torch is imported once the checks have passed) and
run by path: importing the ``mmlt`` package takes seconds.
"""
import ctypes
import errno
import multiprocessing.util
import os
import os.path as osp
import signal
import socket
import sys

CONFIG_EXTS = ('.py', '.json', '.yaml', '.yml')
PR_SET_PDEATHSIG = 1
# signals torchrun forwards to the workers (its default list)
STOP_SIGNALS = ('SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT')


# what mmengine's init_dist reads for each --launcher, and who sets it
LAUNCHER_ENV = {
    'pytorch': (('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
                'torchrun'),
    'slurm': (('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'), 'srun'),
    'mpi': (('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE',
             'OMPI_COMM_WORLD_LOCAL_RANK'), 'Open MPI\'s mpirun'),
}
LAUNCHER_HINT = {
    'pytorch': 'start the processes with tools/dist_train.sh CONFIG '
    'NUM_PROCS or tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS',
    'slurm': 'start the job with tools/slurm_train.sh or '
    'tools/slurm_test.sh',
    'mpi': 'start the processes with mpirun',
}


class LaunchError(Exception):
    """An argument or environment problem found before any worker starts."""


# --------------------------------------------------------------- checks


def _is_url(path: str) -> bool:
    # mmengine loads checkpoints from http(s)://, s3://, open-mmlab://, ...
    return '://' in path


def check_file(path: str, what: str, exts=None) -> None:
    """Raise LaunchError unless ``path`` is a readable file (or a URL)."""
    if _is_url(path):
        return
    if not osp.exists(path):
        where = '' if osp.isabs(path) else f' (relative to {os.getcwd()})'
        raise LaunchError(f'{what} {path} does not exist{where}')
    if not osp.isfile(path):
        raise LaunchError(f'{what} {path} is not a file')
    if not os.access(path, os.R_OK):
        raise LaunchError(f'{what} {path} is not readable')
    if exts and not path.endswith(exts):
        raise LaunchError(f'{what} {path} must end with one of '
                          f'{", ".join(exts)}')


def check_tool_args(args) -> None:
    """Checks of ``tools/train.py`` / ``tools/test.py`` arguments that need
    no config: the files they name exist, the output paths are usable.

    Shared by the launcher (before any process starts) and
    ``mmlt.utils.launch.load_config`` (a run without the launcher).
    Attributes a tool does not have are skipped.
    """
    check_file(args.config, 'config file', CONFIG_EXTS)
    ckpt = getattr(args, 'checkpoint', None)
    if ckpt is not None:
        check_file(ckpt, 'checkpoint')
    resume = getattr(args, 'resume', None)
    if resume not in (None, 'auto'):
        check_file(resume, '--resume checkpoint')
    work_dir = getattr(args, 'work_dir', None)
    if work_dir and osp.exists(work_dir) and not osp.isdir(work_dir):
        raise LaunchError(f'--work-dir {work_dir} exists and is not a '
                          'directory')
    out = getattr(args, 'out', None)
    if isinstance(out, str) and not out.endswith(('.pkl', '.pickle')):
        raise LaunchError(f'--out {out} must be a .pkl file')
    bad = [t for t in (getattr(args, 'eval', None) or [])
           if t not in IOU_TYPES]
    if bad:
        raise LaunchError(f'--eval got {bad}; choose from '
                          f'{", ".join(IOU_TYPES)}')
    launcher = getattr(args, 'launcher', None)
    need, starter = LAUNCHER_ENV.get(launcher, ((), ''))
    missing = [k for k in need if k not in os.environ]
    if missing:
        raise LaunchError(
            f'--launcher {launcher} needs the variables {starter} sets '
            f'({", ".join(missing)} unset); ' + LAUNCHER_HINT[launcher])


def _load_tool_args():
    """``tool_args.py`` by path (this file runs before the mmlt package,
    whose import takes seconds, can be imported)."""
    import importlib.util
    name = 'mmlt_tool_args'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(osp.dirname(osp.abspath(__file__)),
                           'tool_args.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


IOU_TYPES = _load_tool_args().IOU_TYPES


def parse_tool_args(script: str, argv: list):
    """``argv`` parsed by ``script``'s own parser (mmlt/utils/tool_args.py,
    which tools/train.py and tools/test.py use); argparse errors exit 2
    with the tool's usage. None for a script without one there (the
    workers will then parse as usual)."""
    parse = _load_tool_args().TOOL_PARSERS.get(osp.basename(script))
    if parse is None:
        return None
    return parse(list(argv), prog=osp.basename(script))


def _env_int(name: str, default: int, low: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ''):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low:
        raise LaunchError(f'{name}={raw!r} must be an integer >= {low}')
    return value


def port_in_use(port: int) -> bool:
    """True when a process listens on ``port`` here (torchrun's store binds
    all interfaces with SO_REUSEADDR, so TIME_WAIT sockets do not count)."""
    for family, addr in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6,
                                                        '::')):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(1)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
        finally:
            s.close()
    return False


def rendezvous_args(prog: str) -> list:
    """torchrun's node and rendezvous options from NNODES, NODE_RANK,
    MASTER_ADDR and PORT (mmdet's variables)."""
    nnodes = _env_int('NNODES', 1, 1)
    node_rank = _env_int('NODE_RANK', 0, 0)
    if node_rank >= nnodes:
        raise LaunchError(f'NODE_RANK={node_rank} must be < NNODES={nnodes}')
    port_env = os.environ.get('PORT', '')
    if nnodes == 1 and port_env == '':
        # c10d rendezvous on a port the OS picks: no collision between runs
        return ['--standalone']
    port = _env_int('PORT', 29500, 1)
    if port > 65535:
        raise LaunchError(f'PORT={port} must be <= 65535')
    addr = os.environ.get('MASTER_ADDR') or '127.0.0.1'
    if node_rank == 0 and port_in_use(port):
        given = f'PORT={port}' if port_env else \
            f'port {port} (the default when PORT is unset and NNODES > 1)'
        hint = ' or unset PORT to let a one-machine run pick a free port' \
            if nnodes == 1 else ''
        raise LaunchError(
            f'{given} is already in use on this machine, probably by another '
            f'{prog} run; choose a free port with PORT=<port> (the same on '
            f'every node){hint}.')
    return [f'--nnodes={nnodes}', f'--node_rank={node_rank}',
            f'--master_addr={addr}', f'--master_port={port}']


def build_torchrun_argv(prog: str, script: str, nprocs_raw: str,
                        args: list) -> list:
    """Check everything and return torchrun's argv (LaunchError if not)."""
    try:
        nprocs = int(nprocs_raw)
    except ValueError:
        nprocs = 0
    if nprocs < 1:
        raise LaunchError(f'NUM_PROCS must be a positive integer (processes '
                          f'on this machine, one per GPU), got '
                          f'{nprocs_raw!r}')
    if '--launcher' in args or any(a.startswith('--launcher=') for a in args):
        raise LaunchError(f'--launcher is set by {prog} itself (pytorch); '
                          'remove it from the arguments')
    parsed = parse_tool_args(script, args)  # argparse errors exit 2 here
    if parsed is not None:
        check_tool_args(parsed)
    elif args and not args[0].startswith('-'):
        check_file(args[0], 'config file', CONFIG_EXTS)
    return rendezvous_args(prog) + [
        f'--nproc_per_node={nprocs}',
        osp.abspath(__file__), 'worker', script
    ] + list(args) + ['--launcher', 'pytorch']


# --------------------------------------------------------------- launcher


class _Stopped(Exception):

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise _Stopped(signum)


def failure_summary(failures: dict, nprocs: int) -> str:
    """One line on the failed workers of torchrun's ChildFailedError."""
    rank, first = min(failures.items(), key=lambda kv: kv[1].timestamp)
    code = first.exitcode
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f'signal {-code}'
        how = f'was killed by {name}' + (
            ' (out of memory? see dmesg)' if -code == signal.SIGKILL else '')
    else:
        how = f'exited with code {code}'
    return (f'rank {rank} (pid {first.pid}) {how}, the first of the '
            f'{nprocs} processes on this machine to fail (the others were '
            f'stopped); its error is printed above (lines [rank{rank}]: ...)')


def launch(argv: list) -> int:
    """``launch SCRIPT NUM_PROCS [args...]``: check, then run torchrun."""
    prog = os.environ.get('MMLT_LAUNCHER_NAME', 'dist_launch.sh')
    if len(argv) < 2:
        print(f'usage: {prog} SCRIPT NUM_PROCS [args...]', file=sys.stderr)
        return 2
    script, nprocs_raw, args = argv[0], argv[1], argv[2:]
    try:
        torchrun_argv = build_torchrun_argv(prog, script, nprocs_raw, args)
    except LaunchError as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        return 2
    nprocs = int(nprocs_raw)
    if not os.environ.get('OMP_NUM_THREADS'):
        # each process its share of the cores (torchrun would set 1)
        cores = len(os.sched_getaffinity(0)) if hasattr(
            os, 'sched_getaffinity') else os.cpu_count() or 1
        os.environ['OMP_NUM_THREADS'] = str(max(1, cores // nprocs))
    # the workers check that this launcher still runs when they start
    os.environ['MMLT_LAUNCHER_PID'] = str(os.getpid())
    # until torchrun installs its own handlers (when the workers start)
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), _raise_stopped)
    signum = None
    try:
        from torch.distributed.elastic.multiprocessing.api import \
            SignalException
        from torch.distributed.elastic.multiprocessing.errors import \
            ChildFailedError
        from torch.distributed.run import main as torchrun
        try:
            torchrun(torchrun_argv)
        except SignalException as e:
            signum = int(e.sigval)
        except ChildFailedError as e:
            # instead of torchrun's traceback and failure table
            print(f'{prog}: error: {failure_summary(e.failures, nprocs)}',
                  file=sys.stderr)
            return 1
    except _Stopped as e:
        signum = e.signum
    if signum is None:
        return 0
    name = signal.Signals(signum).name
    print(f'{prog}: stopped by {name}; all workers were terminated',
          file=sys.stderr)
    return 128 + signum


# ----------------------------------------------------------------- worker


def _set_pdeathsig(sig: int) -> bool:
    """Linux: deliver ``sig`` to this process when its parent dies."""
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class _ForkHook:
    """Kept alive at module level: multiprocessing's after-fork registry
    holds its objects by weak reference."""

    def __init__(self):
        self.parent = os.getpid()

    def __call__(self, _obj):
        # in a forked child (a data-loader worker): die with the process
        # that forked it, which itself dies with the launcher
        _set_pdeathsig(signal.SIGKILL)
        if os.getppid() != self.parent:
            os._exit(1)  # the parent died before the death signal was set
        self.parent = os.getpid()  # what this child's own children check


_FORK_HOOK = None


def guard_worker() -> None:
    """Make this torchrun worker stop with its launcher.

    * SIGINT gets the default action (terminate), as SIGTERM has: torchrun
      forwards the launcher's signal, and a KeyboardInterrupt can be caught
      or wait while the main thread is blocked in a collective; torchrun
      then waits 30 s before SIGKILL, and the worker keeps training and
      writing checkpoints meanwhile.
    * The launcher killed with SIGKILL (or by the OOM killer) cannot pass
      anything on; torchrun starts workers in their own sessions, so they
      would run on as orphans. ``PR_SET_PDEATHSIG`` has the kernel kill
      them, and data-loader processes forked by multiprocessing get the
      same towards their training process.
    """
    global _FORK_HOOK
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    for name in ('SIGTERM', 'SIGHUP', 'SIGQUIT'):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    _set_pdeathsig(signal.SIGKILL)
    launcher = os.environ.get('MMLT_LAUNCHER_PID')
    if launcher and launcher.isdigit() and os.getppid() != int(launcher):
        os._exit(1)  # the launcher died before the death signal was set
    if _FORK_HOOK is None:
        _FORK_HOOK = _ForkHook()
        multiprocessing.util.register_after_fork(_FORK_HOOK, _FORK_HOOK)


def run_worker(argv: list) -> None:
    """``worker SCRIPT [args...]``: guard, then run SCRIPT as __main__."""
    import runpy
    guard_worker()
    script = osp.abspath(argv[0])
    sys.argv = [argv[0]] + list(argv[1:])
    sys.path.insert(0, osp.dirname(script))  # as `python SCRIPT` has it
    runpy.run_path(script, run_name='__main__')


def check(argv: list) -> int:
    """``check SCRIPT [args...]``: the argument checks alone (Slurm
    scripts, before ``srun`` queues the job)."""
    prog = os.environ.get('MMLT_LAUNCHER_NAME', 'launch_guard.py')
    if not argv:
        print(f'usage: {prog} check SCRIPT [args...]', file=sys.stderr)
        return 2
    try:
        parsed = parse_tool_args(argv[0], argv[1:])
        if parsed is not None:
            parsed.launcher = 'none'  # its variables exist only in the job
            check_tool_args(parsed)
        elif len(argv) > 1 and not argv[1].startswith('-'):
            check_file(argv[1], 'config file', CONFIG_EXTS)
    except LaunchError as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else ''
    if cmd == 'launch':
        return launch(argv[1:])
    if cmd == 'check':
        return check(argv[1:])
    if cmd == 'worker' and len(argv) >= 2:
        run_worker(argv[1:])
        return 0
    print('usage: launch_guard.py launch SCRIPT NUM_PROCS [args...] | '
          'check SCRIPT [args...] | worker SCRIPT [args...]',
          file=sys.stderr)
    return 2


if __name__ == '__main__':
    # run by path, sys.path[0] is mmlt/utils: keep its modules from
    # shadowing top-level ones in what this process imports later
    if sys.path and osp.abspath(sys.path[0]) == osp.dirname(
            osp.abspath(__file__)):
        sys.path.pop(0)
    sys.exit(main())
