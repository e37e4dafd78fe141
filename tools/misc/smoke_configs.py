#!/usr/bin/env python
"""Run every real config end to end on synthetic data in its own format.

    python tools/misc/smoke_configs.py --all                 # every config
    python tools/misc/smoke_configs.py CONFIG [CONFIG ...]   # some
    python tools/misc/smoke_configs.py --all --only-failed   # re-run failures
    python tools/misc/smoke_configs.py --write-doc           # table only

For each config outside ``configs/toy/``, ``configs/_base_/`` and
``configs/benchmark/`` this builds the config's own runner (model, data
pipeline, dataset wrapper, sampler, hooks, optimizer, metric) in a child
process whose working directory is ``--work-root``, where:

* ``data/<data_root>`` holds a few synthetic images in the config's format
  and category set at real image sizes (``tools/make_toy_lvis.py
  --real-format``: LVIS v1 1,203 / v0.5 1,230 categories with real
  frequency groups, OpenImages 500, COCO 80 + the COCO-MLT subset drawn by
  ``tools/create_longtail_dataset.py``, VOC 20 + VOC-MLT), so every path
  in the config resolves as it would on a real machine;
* ``torch_home/hub/checkpoints`` holds fake pretrained weights (random
  values, the real files' names and keys) that the config's
  ``torchvision://`` / ``open-mmlab://`` names resolve to;
* ``work_dirs/<config name>`` is the work dir, so a stage-2 config's
  ``load_from='work_dirs/<stage-1 config>/epoch_N.pth'`` finds the
  checkpoint that the smoke run of its stage-1 config wrote (stage-1
  configs are run first); post-hoc configs (``posthoc = dict(stage1,
  command)``: tau-norm, NCM) run their tool on it, then test.

Each run trains ``--iters`` iterations, saves a checkpoint and tests the
val images through the config's own metric. Losses must be finite. The
results accumulate in ``docs/configs.json`` (per config: status, seconds
per iteration, peak RSS, error, commit, machine, date) and the table in
``docs/configs.md`` is written between markers from it.

Configs whose CPU iteration takes minutes (X101 Cascade/HTC at up to 1400
px) run with their image scales divided by ``LARGE_SCALE_DIV``; the table
says so.
"""
import argparse
import datetime
import glob
import json
import os
import os.path as osp
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

RESULTS = osp.join(ROOT, 'docs', 'configs.json')
GPU_RESULTS = osp.join(ROOT, 'docs', 'configs_gpu.json')
DOC = osp.join(ROOT, 'docs', 'configs.md')
BEGIN, END = '<!-- smoke-table:begin -->', '<!-- smoke-table:end -->'
# data_root prefix -> make_real_format_data format
FORMATS = {
    'data/lvis_v1/': 'lvis_v1',
    'data/lvis_v0.5/': 'lvis_v0.5',
    'data/openimages/': 'openimages',
    'data/coco/': 'coco',
    'data/VOCdevkit/': 'voc',
}
# Configs whose CPU iteration at full size takes minutes: image scales are
# divided by this (stated in the table).
LARGE = re.compile(r'x101-64x4d')
LARGE_SCALE_DIV = 2


def real_configs():
    skip = [osp.join('configs', d) + os.sep
            for d in ('toy', '_base_', 'benchmark')]
    return sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                           recursive=True)
        if not any(s in p for s in skip))


def config_name(config):
    return osp.splitext(osp.basename(config))[0]


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _walk(v)


def data_formats(cfg_dict):
    """Formats of every data_root / ann_file the config names."""
    found = set()
    for node in _walk(cfg_dict):
        for key in ('data_root', 'ann_file', 'train_ann_file', 'freq_file',
                    'train_freq_file'):
            v = node.get(key)
            if isinstance(v, str):
                for prefix, fmt in FORMATS.items():
                    if v.startswith(prefix):
                        found.add(fmt)
    return found


def stage1_of(cfg_dict, names):
    """(stage-1 config name, checkpoint path) of a stage-2/post-hoc config."""
    path = (cfg_dict.get('posthoc') or {}).get('stage1') or cfg_dict.get(
        'load_from')
    if not path:
        return None, None
    parts = path.split('/')
    if len(parts) < 3 or parts[0] != 'work_dirs' or parts[1] not in names:
        raise ValueError(
            f'load_from/posthoc.stage1 {path!r} is not work_dirs/<an mmlt '
            'config>/<file>: the smoke run cannot produce it')
    return parts[1], path


# ----------------------------------------------------------------- data
def prepare_data(work_root, fmts):
    from mmlt.datasets.toy_lvis import make_real_format_data
    for fmt in sorted(fmts):
        prefix = [p for p, f in FORMATS.items() if f == fmt][0]
        root = osp.join(work_root, prefix)
        stamp = osp.join(root, '.smoke-done')
        if osp.isfile(stamp):
            continue
        shutil.rmtree(root, ignore_errors=True)
        print(f'[smoke] writing synthetic {fmt} data to {root}', flush=True)
        out = make_real_format_data(root, fmt)
        tool = osp.join(ROOT, 'tools', 'create_longtail_dataset.py')
        if fmt == 'coco':
            _run([sys.executable, tool, 'coco', out['train'], '--out',
                  osp.join(root, 'longtail2017'), '--no-progress'])
        elif fmt == 'voc':
            _run([sys.executable, tool, 'voc', osp.join(root, 'VOC2012'),
                  '--out', osp.join(root, 'longtail2012'), '--no-progress'])
        open(stamp, 'w').close()


def _run(cmd, cwd=None, log=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if log:
        with open(log, 'a') as f:
            f.write(' '.join(cmd) + '\n' + r.stdout + r.stderr)
    if r.returncode != 0:
        tail = (r.stdout + r.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f'{" ".join(cmd)} failed:\n' + '\n'.join(tail))
    return r


# ------------------------------------------------------- fake weights
def fake_pretrained(cfg):
    """Write random weights with the real file's name and keys for every
    ``Pretrained`` init of the model that is not a local file yet."""
    import torch
    from mmengine.runner.checkpoint import get_external_models

    from mmdet.registry import MODELS
    from mmlt.utils.pretrained import resolve_torchvision
    for node in _walk(cfg.model):
        init = node.get('init_cfg') if isinstance(node, dict) else None
        if not (isinstance(init, dict) and init.get('type') == 'Pretrained'):
            continue
        ckpt = init['checkpoint']
        if ckpt.startswith(('torchvision://', 'modelzoo://')):
            path = resolve_torchvision(ckpt)[1]
        elif ckpt.startswith(('open-mmlab://', 'openmmlab://')):
            url = get_external_models()[ckpt.split('://', 1)[1]]
            path = osp.join(torch.hub.get_dir(), 'checkpoints',
                            osp.basename(url))
        elif ckpt.startswith(('http://', 'https://')):
            path = osp.join(torch.hub.get_dir(), 'checkpoints',
                            osp.basename(ckpt))
        else:
            continue
        if osp.isfile(path):
            continue
        # an ImageNet classifier's keys: the plain backbone (no DCN, no
        # plugins) plus its fc layer; a detector's extra keys (DCN offsets)
        # stay missing, as with the real file
        arch = {k: v for k, v in node.items() if k not in (
            'init_cfg', 'dcn', 'stage_with_dcn', 'plugins', 'frozen_stages',
            'out_indices')}
        model = MODELS.build(arch)
        state = model.state_dict()
        last = max((v.shape[0] for k, v in state.items()
                    if k.endswith('conv3.weight')), default=512)
        state['fc.weight'] = torch.randn(1000, last) * 0.01
        state['fc.bias'] = torch.zeros(1000)
        os.makedirs(osp.dirname(path), exist_ok=True)
        tmp = f'{path}.{os.getpid()}.tmp'  # parallel jobs: atomic
        torch.save(state, tmp)
        os.replace(tmp, path)
        print(f'[smoke] fake pretrained {ckpt} -> {path}', flush=True)


# -------------------------------------------------------------- child
def _scale_down(cfg, div):
    for node in _walk(cfg._cfg_dict):
        for key in ('scale', 'scales', 'img_scale'):
            v = node.get(key)
            if isinstance(v, (list, tuple)) and v and isinstance(
                    v[0], (list, tuple)):
                node[key] = [tuple(int(x) // div for x in s) for s in v]
            elif isinstance(v, (list, tuple)) and len(v) == 2 and all(
                    isinstance(x, int) for x in v):
                node[key] = tuple(int(x) // div for x in v)


def child(args):
    """Runs in --work-root: train --iters iterations, save, test."""
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    import mmlt  # noqa: F401

    class Stop(Exception):
        pass

    class SmokeHook(Hook):
        priority = 'LOWEST'

        def __init__(self, iters):
            self.iters, self.times, self.losses = iters, [], []

        def before_train(self, runner):
            self.t = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            now = time.perf_counter()
            self.times.append(now - self.t)
            self.t = now
            loss = {k: float(torch.as_tensor(v).detach())
                    for k, v in (outputs or {}).items() if 'loss' in k}
            self.losses.append(loss)
            bad = [k for k, v in loss.items() if not np.isfinite(v)]
            if bad:
                raise FloatingPointError(
                    f'non-finite {bad} at iteration {runner.iter + 1}')
            if len(self.times) >= self.iters:
                raise Stop

    result = dict(config=args.child)
    cfg = Config.fromfile(osp.join(ROOT, args.child))
    name = config_name(args.child)
    cfg.work_dir = osp.join('work_dirs', name)
    cfg.launcher = 'none'
    if LARGE.search(name) and not torch.cuda.is_available():
        _scale_down(cfg, LARGE_SCALE_DIV)
        result['note'] = f'image scales / {LARGE_SCALE_DIV}'
    if args.load_from:
        cfg.load_from = args.load_from
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'MemoryBankInitHook' and \
                not torch.cuda.is_available():
            # LOCE's init forwards ceil(Q/16) images of every class
            # (6,015 images of LVIS v1 per rank): hours on a CPU
            hook['max_images'] = 4
            result['note'] = ', '.join(
                filter(None, [result.get('note'), 'memory init: 4 images']))
    fake_pretrained(cfg)
    build = (lambda c: RUNNERS.build(c)) if 'runner_type' in cfg else \
        Runner.from_cfg
    t0 = time.perf_counter()
    runner = build(cfg)
    hook = SmokeHook(args.iters)
    if not args.test_only:
        runner.register_hook(hook)
        try:
            runner.train()
        except Stop:
            pass
        runner.save_checkpoint(cfg.work_dir, 'smoke.pth')
        per_iter = hook.times[1:] or hook.times
        result.update(
            iters=len(hook.times),
            s_per_iter=float(np.mean(per_iter)),
            first_iter_s=hook.times[0],
            last_loss=hook.losses[-1].get('loss'))
    t1 = time.perf_counter()
    metrics = runner.test()
    n_test = len(runner.test_dataloader.dataset)
    result.update(
        build_train_s=t1 - t0,
        test_s_per_img=(time.perf_counter() - t1) / max(n_test, 1),
        test_images=n_test,
        metrics={k: (float(v) if isinstance(v, (int, float, np.floating))
                     else str(v)) for k, v in (metrics or {}).items()})
    if torch.cuda.is_available():
        result['peak_gpu_mb'] = torch.cuda.max_memory_allocated() / 2**20
    with open(args.result_file, 'w') as f:
        json.dump(result, f)


# ------------------------------------------------------------- parent
def run_one(config, args, threads, load_from=None, test_only=False):
    name = config_name(config)
    wd = osp.join(args.work_root, 'work_dirs', name)
    os.makedirs(wd, exist_ok=True)
    res_file = osp.join(wd, 'smoke_result.json')
    if osp.exists(res_file):
        os.remove(res_file)
    cmd = [sys.executable, osp.abspath(__file__), '--child', config,
           '--iters', str(args.iters), '--result-file', res_file]
    if load_from:
        cmd += ['--load-from', load_from]
    if test_only:
        cmd += ['--test-only']
    env = dict(os.environ, TORCH_HOME=osp.join(args.work_root, 'torch_home'),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS=str(threads))
    if args.device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    log = osp.join(wd, 'smoke.log')
    t0 = time.perf_counter()
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=args.work_root, env=env, stdout=f,
                                stderr=subprocess.STDOUT)
        deadline = t0 + args.timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.5)
    rc = os.waitstatus_to_exitcode(status)
    result = dict(config=config, status='failed', wall_s=time.perf_counter()
                  - t0, peak_rss_mb=usage.ru_maxrss / 1024)
    if rc == 0 and osp.isfile(res_file):
        with open(res_file) as f:
            result.update(json.load(f))
        result['status'] = 'passed'
    else:
        with open(log, errors='replace') as f:
            lines = [ln.rstrip() for ln in f if ln.strip()]
        errs = [ln for ln in lines if re.match(r'^\w*(Error|Exception)', ln)]
        result['error'] = (errs[-1] if errs else lines[-1] if lines else
                           f'exit code {rc}')[:300]
        if rc < 0:
            result['error'] = f'killed by signal {-rc}' + (
                f" (out of memory? peak RSS "
                f"{result['peak_rss_mb'] / 1024:.1f} GB)" if rc == -9 else '')
        if time.perf_counter() > t0 + args.timeout:
            result['error'] = f'timed out after {args.timeout} s'
    result['log'] = osp.relpath(log, args.work_root)
    return result


def run_posthoc(config, cfg_dict, stage1_ckpt, args, threads):
    name = config_name(config)
    wd = osp.join(args.work_root, 'work_dirs', name)
    os.makedirs(wd, exist_ok=True)
    out = osp.join('work_dirs', name, 'posthoc.pth')
    subs = dict(stage1=stage1_ckpt, out=out, config=osp.join(ROOT, config))
    cmd = [sys.executable] + [
        osp.join(ROOT, a) if i == 0 else a.format(**subs)
        for i, a in enumerate(cfg_dict['posthoc']['command'])]
    env_cmd = ['env', 'TORCH_HOME=' + osp.join(args.work_root, 'torch_home'),
               'PYTHONPATH=' + ROOT, f'OMP_NUM_THREADS={threads}'] + cmd
    if args.device == 'cpu':
        env_cmd.insert(1, 'CUDA_VISIBLE_DEVICES=')
    _run(env_cmd, cwd=args.work_root, log=osp.join(wd, 'posthoc.log'))
    return out


def link_stage1(work_root, stage1_name, ckpt_path):
    """Make the stage-2 config's load_from path point at the smoke
    checkpoint of its stage-1 config."""
    src = osp.join(work_root, 'work_dirs', stage1_name, 'smoke.pth')
    dst = osp.join(work_root, ckpt_path)
    if not osp.isfile(src):
        return False
    if osp.lexists(dst):
        os.remove(dst)
    os.symlink(osp.abspath(src), dst)
    return True


def git_commit():
    if os.environ.get('MMLT_COMMIT'):  # a copy of the tree without .git
        return os.environ['MMLT_COMMIT']
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                              cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:
        return 'unknown'


def load_results(path):
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def write_results(path, results):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(sorted(results.items())), f, indent=1)
        f.write('\n')
    os.replace(tmp, path)


def _cells(r, gpu):
    """(s / iter, s / test img, peak memory, result) cells of one run."""
    if r is None:
        return '', '', '', 'not run'
    ok = r['status'] == 'passed'
    it = f"{r['s_per_iter']:.1f}" if r.get('s_per_iter') else (
        'post hoc' if ok else '')
    test = f"{r['test_s_per_img']:.1f}" if r.get('test_s_per_img') else ''
    mem = r.get('peak_gpu_mb' if gpu else 'peak_rss_mb')
    mem = f'{mem / 1024:.1f}' if mem else ''
    status = 'passed' if ok else 'FAILED: ' + r.get('error', '').replace(
        '|', '\\|')
    if r.get('note'):
        status += f" ({r['note']})"
    return it, test, mem, status


def _provenance(results):
    if not results:
        return 'none'
    machines = sorted({r.get('machine', '?') for r in results.values()})
    commits = sorted({r.get('commit', '?') for r in results.values()})
    dates = sorted(r.get('date', '') for r in results.values())
    return (f'{dates[0][:10]} to {dates[-1][:10]}, commits '
            f'{", ".join(commits)}; {"; ".join(machines)}')


def format_table(results, configs, gpu_results=None):
    from mmengine.config import Config
    gpu_results = gpu_results or {}
    rows = ['| config | base batch | CPU s / iter | CPU s / test img | '
            'peak RSS (GB) | CPU run | GPU s / iter | peak GPU mem (GB) | '
            'GPU run |', '|---|---:|---:|---:|---:|---|---:|---:|---|']
    n_cpu = n_gpu = n_any = 0
    for config in configs:
        try:
            base = Config.fromfile(osp.join(ROOT, config)).get(
                'auto_scale_lr', {}).get('base_batch_size', '')
        except Exception:
            base = '?'
        cpu, gpu = results.get(config), gpu_results.get(config)
        ok_c = bool(cpu and cpu['status'] == 'passed')
        ok_g = bool(gpu and gpu['status'] == 'passed')
        n_cpu, n_gpu, n_any = n_cpu + ok_c, n_gpu + ok_g, n_any + (ok_c or
                                                                 ok_g)
        c_it, c_test, c_mem, c_st = _cells(cpu, False)
        g_it, _, g_mem, g_st = _cells(gpu, True)
        rows.append(f'| `{config}` | {base} | {c_it} | {c_test} | {c_mem} | '
                    f'{c_st} | {g_it} | {g_mem} | {g_st} |')
    head = (f'{n_any} of {len(configs)} real configs passed ({n_cpu} on '
            f'the CPU, {n_gpu} on the GPU).\n\nCPU runs: '
            f'{_provenance(results)}.\nGPU runs: '
            f'{_provenance(gpu_results)}.')
    return head + '\n\n' + '\n'.join(rows)


def write_doc(results, configs, doc=DOC, gpu_results=None):
    from mmlt.utils.doc_markers import write_section
    write_section(doc, 'smoke-table',
                  format_table(results, configs, gpu_results))


def interleave_families(configs):
    """Round-robin over config folders: every family fails early."""
    fams = {}
    for c in configs:
        fams.setdefault(osp.dirname(c), []).append(c)
    out = []
    while any(fams.values()):
        for k in sorted(fams):
            if fams[k]:
                out.append(fams[k].pop(0))
    return out


def plan(configs):
    """Configs in dependency order, stage-1 configs added where needed."""
    from mmengine.config import Config
    names = {config_name(c): c for c in real_configs()}
    info, order, seen = {}, [], set()

    def visit(config):
        if config in seen:
            return
        seen.add(config)
        d = Config.fromfile(osp.join(ROOT, config)).to_dict()
        s1, ckpt = stage1_of(d, names)
        info[config] = dict(cfg=d, stage1=s1 and names[s1], ckpt=ckpt,
                            formats=data_formats(d))
        if s1:
            visit(names[s1])
        order.append(config)

    for c in configs:
        visit(c)
    return order, info


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Run real configs end to end on synthetic data in '
        'their own format (see the module docstring).')
    p.add_argument('configs', nargs='*', help='config files (repo-relative)')
    p.add_argument('--all', action='store_true',
                   help='every config outside configs/{toy,_base_,benchmark}')
    p.add_argument('--only-failed', action='store_true',
                   help='with --all: only configs not passed in --results')
    p.add_argument('--iters', type=int, default=2,
                   help='training iterations per config (the first is not '
                   'timed when there are more)')
    p.add_argument('--work-root', default=osp.join(ROOT, 'work_dirs',
                                                   'smoke'))
    p.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    p.add_argument('--jobs', type=int, default=1,
                   help='configs run at once (each with cores / jobs '
                   'threads); stage-2 configs wait for their stage 1')
    p.add_argument('--timeout', type=int, default=1800,
                   help='seconds per config')
    p.add_argument('--results', default=None,
                   help=f'accumulated results json (default {RESULTS}, '
                   f'with --device cuda {GPU_RESULTS})')
    p.add_argument('--json', default=None,
                   help='also write this run\'s results here')
    p.add_argument('--write-doc', action='store_true',
                   help=f'(re)write the table in {DOC} from --results')
    p.add_argument('--child', help=argparse.SUPPRESS)
    p.add_argument('--result-file', help=argparse.SUPPRESS)
    p.add_argument('--load-from', help=argparse.SUPPRESS)
    p.add_argument('--test-only', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.results is None:
        args.results = RESULTS if args.device == 'cpu' else GPU_RESULTS
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        try:
            child(args)
        except Exception:
            traceback.print_exc()
            sys.exit(1)
        return
    results = load_results(args.results) if args.results else {}
    configs = real_configs() if args.all else [
        osp.relpath(osp.abspath(c), ROOT) for c in args.configs]
    for c in configs:
        if not osp.isfile(osp.join(ROOT, c)):
            raise SystemExit(f'no such config: {c}')
    if args.only_failed:
        configs = [c for c in configs
                   if results.get(c, {}).get('status') != 'passed']
    configs = interleave_families(configs)
    if configs:
        args.work_root = osp.abspath(args.work_root)
        os.makedirs(args.work_root, exist_ok=True)
        order, info = plan(configs)
        # the largest models last (they run alone, with every core)
        order.sort(key=lambda c: bool(LARGE.search(c)))
        prepare_data(args.work_root,
                     set().union(*(i['formats'] for i in info.values())))
        from concurrent.futures import (FIRST_COMPLETED, ThreadPoolExecutor,
                                        wait)
        from threading import Lock

        from tqdm import tqdm
        this_run, lock = {}, Lock()
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        machine = (f'{platform.machine()} {os.cpu_count()} cores, '
                   f'{args.device}, {args.jobs} job(s) x {threads} threads')
        pbar = tqdm(total=len(order), desc='configs', unit='cfg',
                    dynamic_ncols=True)

        def task(config):
            i = info[config]
            load_from = None
            prev = results.get(config, {})
            if config not in configs and prev.get('status') == 'passed' \
                    and osp.isfile(osp.join(args.work_root, osp.dirname(
                        prev['log']), 'smoke.pth')):
                # a stage 1 brought in for its checkpoint, already passed
                with lock:
                    this_run[config] = prev
                    pbar.update(1)
                return prev
            try:
                if i['stage1']:
                    s1 = this_run[i['stage1']]
                    if not link_stage1(args.work_root,
                                       config_name(i['stage1']), i['ckpt']):
                        raise RuntimeError(
                            f"stage 1 {i['stage1']} has no smoke checkpoint "
                            f"({s1.get('error', 'not run')})")
                n = (os.cpu_count() or 1) if big(config) else threads
                if i['cfg'].get('posthoc'):
                    load_from = run_posthoc(config, i['cfg'], i['ckpt'],
                                            args, n)
                r = run_one(config, args, n, load_from=load_from,
                            test_only=bool(load_from))
            except Exception as e:
                r = dict(config=config, status='failed',
                         error=str(e).splitlines()[-1][:300], peak_rss_mb=0)
            r.update(commit=git_commit(), machine=machine,
                     date=datetime.datetime.now().isoformat(
                         timespec='seconds'))
            with lock:
                this_run[config] = r
                pbar.update(1)
                tqdm.write(
                    f"[smoke] {r['status']:6s} {config}  "
                    + (f"{r['s_per_iter']:.1f} s/iter  "
                       if r.get('s_per_iter') else '')
                    + f"peak RSS {r['peak_rss_mb'] / 1024:.1f} GB"
                    + (f"  peak GPU {r['peak_gpu_mb'] / 1024:.1f} GB"
                       if r.get('peak_gpu_mb') else '')
                    + (f"  {r['error']}" if r.get('error') else ''))
                if args.results:
                    results[config] = r
                    write_results(args.results, results)
                if args.json:
                    write_results(args.json, this_run)
            return r

        def big(config):
            return args.device == 'cpu' and LARGE.search(config)

        # start a config once its stage 1 has finished
        pending, running = list(order), {}
        with ThreadPoolExecutor(args.jobs) as pool:
            while pending or running:
                for config in list(pending):
                    if len(running) >= args.jobs or any(
                            big(c) for c in running):
                        break
                    s1 = info[config]['stage1']
                    ready = s1 is None or s1 in this_run
                    if big(config) and running and ready:
                        break  # the largest models run alone: drain first
                    if ready and LARGE.search(config) and sum(
                            bool(LARGE.search(c)) for c in running) >= 3:
                        continue  # GPU: at most 3 of them share the card
                    if ready:
                        pending.remove(config)
                        running[config] = pool.submit(task, config)
                done, _ = wait(list(running.values()),
                               return_when=FIRST_COMPLETED)
                running = {c: f for c, f in running.items()
                           if f not in done}
        pbar.close()
        failed = [c for c, r in this_run.items() if r['status'] != 'passed']
        print(f'[smoke] {len(this_run) - len(failed)} passed, '
              f'{len(failed)} failed' + ''.join(f'\n  {c}' for c in failed))
    if args.write_doc or args.all:
        write_doc(load_results(RESULTS), real_configs(),
                  gpu_results=load_results(GPU_RESULTS))
        print(f'[smoke] wrote {DOC}')
    if configs and failed:
        sys.exit(1)


if __name__ == '__main__':
    main()
