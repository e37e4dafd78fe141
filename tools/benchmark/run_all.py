#!/usr/bin/env python
"""Train and evaluate every method of mmlt on the embedded toy set and write
one table (``docs/benchmark.md``).

The methods are the configs under ``configs/benchmark/`` (``--config-dir``):
each inherits a toy config and adds a ``benchmark`` dict::

    benchmark = dict(
        name='cRT',                  # row label (required)
        model='Mask R-CNN, stage 2', # detector / recipe column
        order=60,                    # row order (default: file name order)
        stage1='ce',                 # start from that row's checkpoint
                                     #   (passed as load_from)
        posthoc=[...],               # no training: a command that writes
                                     #   the checkpoint ({stage1}, {out})
        eval=['bbox'],               # iou types (default bbox and segm)
        baseline='ce')               # row the APr gain is measured against

A new method appears in the table by adding such a config; the runner is
not edited. Every run shares the toy set, the seed (0) and the schedule of
its toy config; decoupled rows start from the checkpoint of their
``stage1`` row, trained once. Runs whose checkpoint exists are not
retrained (``--force`` retrains), so an interrupted benchmark resumes.

The table goes between the ``<!-- run_all:begin -->`` / ``<!-- run_all:end
-->`` markers of the doc; text outside them (the discussion) is kept.

Usage::

    python tools/benchmark/run_all.py [--only crt lws] [--nprocs 2]
        [--out work_dirs/benchmark] [--doc docs/benchmark.md] [--dry-run]
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
import warnings
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
BEGIN, END = '<!-- run_all:begin -->', '<!-- run_all:end -->'
KNOWN_KEYS = {'name', 'model', 'order', 'stage1', 'posthoc', 'eval',
              'baseline'}
IOU_TYPES = ('bbox', 'segm')


class Method:
    """One benchmark row: its config and the ``benchmark`` dict."""

    def __init__(self, key: str, config: str, spec: dict):
        self.key = key
        self.config = config
        unknown = set(spec) - KNOWN_KEYS
        if unknown:
            raise ValueError(f'{config}: unknown benchmark keys '
                             f'{sorted(unknown)}; allowed: '
                             f'{sorted(KNOWN_KEYS)}')
        if not spec.get('name'):
            raise ValueError(f'{config}: benchmark.name is required')
        self.name = str(spec['name'])
        self.model = str(spec.get('model', ''))
        self.order = spec.get('order')
        self.stage1: Optional[str] = spec.get('stage1')
        self.posthoc: Optional[List[str]] = spec.get('posthoc')
        self.baseline: Optional[str] = spec.get('baseline')
        self.eval = list(spec.get('eval', IOU_TYPES))
        bad = [t for t in self.eval if t not in IOU_TYPES]
        if bad:
            raise ValueError(f'{config}: benchmark.eval has {bad}; allowed: '
                             f'{list(IOU_TYPES)}')
        if self.posthoc is not None and not self.stage1:
            raise ValueError(f'{config}: a posthoc row needs benchmark.stage1'
                             ' (the checkpoint its command transforms)')


def discover(config_dir: str) -> Dict[str, Method]:
    """``{key: Method}`` of every ``*.py`` in ``config_dir`` (key = file
    stem); configs without a ``benchmark`` dict are an error."""
    from mmengine.config import Config
    if not osp.isdir(config_dir):
        raise FileNotFoundError(f'benchmark config dir {config_dir} does not '
                                'exist')
    methods = {}
    for fname in sorted(os.listdir(config_dir)):
        if not fname.endswith('.py'):
            continue
        path = osp.join(config_dir, fname)
        with warnings.catch_warnings():  # import warnings of custom_imports
            warnings.simplefilter('ignore')
            spec = Config.fromfile(path).get('benchmark')
        if not isinstance(spec, dict):
            raise ValueError(f'{path} has no `benchmark = dict(name=...)`; '
                             'every config in the benchmark dir is a row')
        methods[fname[:-3]] = Method(fname[:-3], path, dict(spec))
    if not methods:
        raise ValueError(f'no benchmark configs (*.py) in {config_dir}')
    for m in methods.values():
        for field in ('stage1', 'baseline'):
            ref = getattr(m, field)
            if ref is not None and ref not in methods:
                raise ValueError(f'{m.config}: benchmark.{field}={ref!r} is '
                                 f'not a config in {config_dir} '
                                 f'(known: {sorted(methods)})')
    return methods


def plan(methods: Dict[str, Method],
         only: Optional[List[str]] = None) -> List[Method]:
    """Rows in table order, restricted to ``only`` plus what they need
    (stage-1 rows and baselines); raises on unknown keys and stage-1
    cycles."""
    keys = list(methods)
    if only:
        unknown = [k for k in only if k not in methods]
        if unknown:
            raise ValueError(f'--only {unknown}: not benchmark configs '
                             f'(known: {sorted(methods)})')
        keys, todo = [], list(only)
        while todo:
            k = todo.pop()
            if k in keys:
                continue
            keys.append(k)
            todo += [r for r in (methods[k].stage1, methods[k].baseline)
                     if r is not None]
    for k in keys:  # stage-1 chains must end
        seen, cur = [k], methods[k].stage1
        while cur is not None:
            if cur in seen:
                raise ValueError('benchmark.stage1 cycle: '
                                 + ' -> '.join(seen + [cur]))
            seen.append(cur)
            cur = methods[cur].stage1
    pos = {k: i for i, k in enumerate(methods)}
    return sorted((methods[k] for k in keys),
                  key=lambda m: (m.order is None, m.order or 0, pos[m.key]))


def run_order(rows: List[Method], methods: Dict[str, Method]) -> List[Method]:
    """Execution order: table order, each row after its stage-1 row."""
    done, out = set(), []

    def visit(m):
        if m.key in done:
            return
        if m.stage1:
            visit(methods[m.stage1])
        done.add(m.key)
        out.append(m)

    for m in rows:
        visit(m)
    return out


# ---------------------------------------------------------------- running
def _log(msg: str) -> None:
    print(f'[{datetime.datetime.now():%H:%M:%S}] {msg}', file=sys.stderr,
          flush=True)


def _sh(cmd: List[str], log_file: str) -> float:
    t0 = time.time()
    with open(log_file, 'w') as f:
        rc = subprocess.call(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        raise RuntimeError(f'`{" ".join(cmd)}` failed (exit {rc}); see '
                           f'{log_file}')
    return time.time() - t0


def _checkpoint(work_dir: str) -> Optional[str]:
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            ckpt = f.read().strip()
        if osp.isfile(ckpt):
            return ckpt
    return None


def _has_eval(work_dir: str) -> bool:
    from compare_runs import latest_metrics
    try:
        latest_metrics(work_dir)
        return True
    except FileNotFoundError:
        return False


def execute(m: Method, out: str, nprocs: int, ckpts: Dict[str, str],
            force: bool) -> bool:
    """Train (or transform) and test one row; its checkpoint goes into
    ``ckpts`` and its timings into ``<work_dir>/benchmark_run.json``.
    Returns whether it trained (False: an earlier run was reused)."""
    wd = osp.join(out, m.key)
    os.makedirs(wd, exist_ok=True)
    times_file = osp.join(wd, 'benchmark_run.json')
    times = {}
    if osp.isfile(times_file) and not force:
        with open(times_file) as f:
            times = json.load(f)
    py = sys.executable
    stage1_ckpt = ckpts.get(m.stage1) if m.stage1 else None
    ckpt = None if force else (
        _checkpoint(wd) if m.posthoc is None else
        (osp.join(wd, f'{m.key}.pth')
         if osp.isfile(osp.join(wd, f'{m.key}.pth')) else None))
    fresh = ckpt is None
    if fresh:
        if m.posthoc is not None:
            ckpt = osp.join(wd, f'{m.key}.pth')
            cmd = [py] + [a.format(stage1=stage1_ckpt, out=ckpt)
                          for a in m.posthoc]
            _log(f'{m.key}: post hoc from {m.stage1}')
            times['train_s'] = _sh(cmd, wd + '.posthoc.log')
        else:
            cmd = [osp.join(ROOT, 'tools', 'dist_train.sh'), m.config,
                   str(nprocs), '--work-dir', wd, '--no-validate']
            if stage1_ckpt:
                cmd += ['--cfg-options', f'load_from={stage1_ckpt}']
            _log(f'{m.key}: training {m.config}')
            times['train_s'] = _sh(cmd, wd + '.train.log')
            ckpt = _checkpoint(wd)
            if ckpt is None:
                raise RuntimeError(f'{m.key}: training wrote no checkpoint '
                                   f'in {wd}; see {wd}.train.log')
        _log(f'{m.key}: trained in {times["train_s"]:.0f} s')
    ckpts[m.key] = ckpt
    if fresh or not _has_eval(wd):
        cmd = [osp.join(ROOT, 'tools', 'dist_test.sh'), m.config, ckpt,
               str(nprocs), '--work-dir', wd, '--eval'] + m.eval
        _log(f'{m.key}: testing')
        times['test_s'] = _sh(cmd, wd + '.test.log')
    with open(times_file, 'w') as f:
        json.dump(times, f)
    return fresh


# ---------------------------------------------------------------- the doc
def _fmt(v) -> str:
    return 'n/a' if v is None or v < 0 else f'{100 * v:.1f}'


def result_rows(rows: List[Method], out: str,
                methods: Dict[str, Method]) -> List[dict]:
    """Metrics and timings of each evaluated row (rows never evaluated are
    an error naming the run)."""
    from compare_runs import latest_metrics
    res = {}
    for m in rows:
        wd = osp.join(out, m.key)
        metrics = latest_metrics(wd)
        times = {}
        tf = osp.join(wd, 'benchmark_run.json')
        if osp.isfile(tf):
            with open(tf) as f:
                times = json.load(f)
        res[m.key] = dict(method=m, metrics=metrics, times=times)
    for r in res.values():
        b = r['method'].baseline
        r['baseline'] = res.get(b) if b else None
    return [res[m.key] for m in rows]


def markdown_table(results: List[dict]) -> str:
    head = ['method', 'model / recipe', 'bbox AP', 'APr', 'APc', 'APf',
            'segm AP', 'APr', 'APc', 'APf', 'ΔAPr (bbox) vs', 'train min']
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '|'.join(['---'] * 2 + ['---:'] * (len(head) - 2)) + '|']
    for r in results:
        m, met = r['method'], r['metrics']
        vals = [m.name, m.model]
        for t in IOU_TYPES:
            vals += [_fmt(met.get(f'lvis/{t}_{k}')) if t in m.eval else '–'
                     for k in ('AP', 'APr', 'APc', 'APf')]
        b = r['baseline']
        if b is None:
            vals.append('–')
        else:
            d = met['lvis/bbox_APr'] - b['metrics']['lvis/bbox_APr']
            vals.append(f'{100 * d:+.1f} ({b["method"].name})')
        t = r['times'].get('train_s')
        vals.append('–' if t is None else f'{t / 60:.1f}')
        out.append('| ' + ' | '.join(vals) + ' |')
    return '\n'.join(out)


def no_gain(results: List[dict]) -> List[str]:
    """Rows whose bbox APr does not beat their baseline's."""
    return [f'{r["method"].name} ({100 * r["metrics"]["lvis/bbox_APr"]:.1f}'
            f' vs {r["baseline"]["method"].name} '
            f'{100 * r["baseline"]["metrics"]["lvis/bbox_APr"]:.1f})'
            for r in results if r['baseline'] is not None
            and r['metrics']['lvis/bbox_APr']
            <= r['baseline']['metrics']['lvis/bbox_APr']]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import mmcv
        import mmdet
        import mmengine
        import torch
        stack = (f'torch {torch.__version__}, mmcv {mmcv.__version__}, '
                 f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}')
    except ImportError:
        stack = 'stack not importable'
    gpu = 'no GPU'
    try:
        import torch
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return (f'{cpu}, {os.cpu_count()} cores, {gpu}; Python '
            f'{platform.python_version()}, {stack}')


def generated_section(results: List[dict], command: str, nprocs: int,
                      wall_s: Optional[float], trained: Optional[int] = None
                      ) -> str:
    total = sum(r['times'].get('train_s', 0) + r['times'].get('test_s', 0)
                for r in results)
    lines = [
        BEGIN,
        '<!-- generated by tools/benchmark/run_all.py; edits between these '
        'markers are overwritten -->',
        '',
        f'Command: `{command}`  ',
        f'Machine: {machine()}; {nprocs} processes per run (gloo on CPU)'
        '  ',
        f'Time: {total / 60:.0f} min of training and testing summed over the '
        f'{len(results)} runs (per run: last column)' +
        ('; every run was reused from earlier invocations' if trained == 0
         else (f'; the invocation that wrote this table took '
               f'{wall_s / 60:.0f} min' +
               (f' and trained {trained} of them (the others were reused)'
                if trained is not None and trained < len(results) else ''))
         if wall_s is not None else '') +
        f'; written {datetime.date.today().isoformat()}.',
        '',
        'LVIS AP (%) on the toy validation set (seed 0; each row the '
        'schedule of its toy config).',
        '',
        markdown_table(results),
        '',
    ]
    losers = no_gain(results)
    lines.append('Rows that do not beat their baseline on bbox APr: '
                 + ('; '.join(losers) if losers else 'none') + '.')
    lines += ['', END]
    return '\n'.join(lines)


def write_doc(doc: str, section: str) -> None:
    """Put ``section`` between the markers of ``doc`` (appended, or a new
    file with a title, when there are none); the rest is kept."""
    text = ''
    if osp.isfile(doc):
        with open(doc) as f:
            text = f.read()
    if BEGIN in text and END in text:
        if text.index(BEGIN) > text.index(END):
            raise ValueError(f'{doc}: {END} comes before {BEGIN}')
        pre = text[:text.index(BEGIN)]
        post = text[text.index(END) + len(END):]
        text = pre + section + post
    elif BEGIN in text or END in text:
        raise ValueError(f'{doc} has only one of {BEGIN} / {END}; fix or '
                         'remove it')
    else:
        if not text:
            text = '# Benchmark: every method on the embedded toy set\n\n'
        text = text.rstrip('\n') + '\n\n' + section + '\n'
    if osp.dirname(doc):
        os.makedirs(osp.dirname(doc), exist_ok=True)
    with open(doc, 'w') as f:
        f.write(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config-dir',
                        default=osp.join('configs', 'benchmark'))
    parser.add_argument('--only', nargs='+', metavar='KEY',
                        help='these rows (config file stems) and what they '
                        'need; the table then holds only them')
    parser.add_argument('--nprocs', type=int, default=2,
                        help='processes per run (default 2)')
    parser.add_argument('--out', default=osp.join('work_dirs', 'benchmark'))
    parser.add_argument('--doc', default=osp.join('docs', 'benchmark.md'))
    parser.add_argument('--force', action='store_true',
                        help='retrain runs that already have a checkpoint')
    parser.add_argument('--no-doc', action='store_true',
                        help='print the table, do not write --doc')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the plan and exit')
    args = parser.parse_args(argv)
    if args.nprocs < 1:
        parser.error('--nprocs must be >= 1')
    os.chdir(ROOT)
    methods = discover(args.config_dir)
    rows = plan(methods, args.only)
    order = run_order(rows, methods)
    if args.dry_run:
        for i, m in enumerate(order, 1):
            how = ('post hoc' if m.posthoc else 'train') + (
                f' from {m.stage1}' if m.stage1 else '')
            print(f'{i:2d}. {m.key:18s} {m.name:32s} {how:22s} {m.config}')
        return 0
    t0 = time.time()
    subprocess.check_call([sys.executable, 'tools/make_toy_lvis.py', '--out',
                           'data/toy_lvis', '--no-progress'])
    ckpts: Dict[str, str] = {}
    trained = sum(
        execute(m, args.out, args.nprocs, ckpts, args.force) for m in order)
    results = result_rows(rows, args.out, methods)
    command = 'python tools/benchmark/run_all.py' + (
        f' --only {" ".join(args.only)}' if args.only else '') + (
        f' --nprocs {args.nprocs}' if args.nprocs != 2 else '')
    section = generated_section(results, command, args.nprocs,
                                time.time() - t0, trained)
    print(markdown_table(results))
    if not args.no_doc:
        write_doc(args.doc, section)
        _log(f'table written to {args.doc}')
    try:
        from compare_runs import main as compare_main
        compare_main([osp.join(args.out, m.key) for m in rows] +
                     ['--names'] + [m.name for m in rows] +
                     ['--out-png', osp.join(args.out, 'compare_runs.png')])
    except Exception as e:  # the table is the deliverable; the PNG is extra
        print(f'warning: comparison PNG not written: {e}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
