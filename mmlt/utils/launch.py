"""Shared set-up of ``tools/train.py`` and ``tools/test.py``.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and
defaults to NCCL, and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; all
three fail on a machine without a GPU. With ``--launcher pytorch`` and no
CUDA, mmlt starts the process group itself with the gloo backend (the runner
then skips its own initialisation) and wraps the model in DDP without device
ids, so ``tools/dist_train.sh CONFIG N`` runs N CPU processes.
"""
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict

# IOU_TYPES is imported from here by tools/test.py and eval_results.py
from .launch_guard import IOU_TYPES, LaunchError, check_tool_args  # noqa
from .tool_args import add_common_args  # noqa: F401


def slurm_master_port() -> None:
    """Give each Slurm job its own rendezvous port unless MASTER_PORT is set.

    mmengine's slurm init falls back to port 29500, so two jobs that share
    a node collide (EADDRINUSE). Every task of a job sees the same
    SLURM_JOB_ID, hence the same port.
    """
    job = os.environ.get('SLURM_JOB_ID', '')
    if 'MASTER_PORT' not in os.environ and job.isdigit():
        os.environ['MASTER_PORT'] = str(20000 + int(job) % 10000)


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Record the launcher in ``cfg``; on CPU, start gloo and fix the wrapper."""
    cfg.launcher = launcher
    if launcher == 'slurm':
        slurm_master_port()
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} needs GPUs; on a CPU-only machine use '
            '--launcher pytorch (tools/dist_train.sh does), which runs the '
            'processes with the gloo backend.')
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        if 'timeout' in kwargs:
            from datetime import timedelta
            kwargs['timeout'] = timedelta(seconds=kwargs['timeout'])
        dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    # CPU modules must be wrapped with device_ids=None.
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def default_work_dir(cfg: Config, config_path: str,
                     work_dir: Optional[str]) -> str:
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir', None) is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def _evaluators(cfg: Config, key: str) -> list:
    ev = cfg.get(key)
    if ev is None:
        return []
    return list(ev) if isinstance(ev, (list, tuple)) else [ev]


def apply_eval_types(cfg: Config, eval_types: Optional[Sequence[str]]) -> None:
    """Map the old ``--eval bbox segm`` onto the LVIS/COCO metric's ``metric``.

    The metric list of every evaluator that has a ``metric`` key (val and
    test) is replaced, so ``--eval bbox`` also skips mask evaluation.
    """
    if not eval_types:
        return
    bad = [t for t in eval_types if t not in IOU_TYPES]
    if bad:
        raise ValueError(f'--eval got {bad}; choose from {IOU_TYPES}')
    found = False
    for key in ('val_evaluator', 'test_evaluator'):
        for ev in _evaluators(cfg, key):
            if 'metric' in ev:
                ev['metric'] = list(eval_types)
                found = True
    if not found:
        raise ValueError('--eval was given, but no val/test evaluator in the '
                         'config has a `metric` option to set.')


def check_iou_types(cfg: Config, model, config: str,
                    key: str = 'test_evaluator') -> None:
    """Fail before inference (or training) when the ``key`` evaluators ask
    for masks (segm) and the model has no mask head, instead of a KeyError
    after the whole inference pass."""
    from mmengine.model import is_model_wrapper
    if is_model_wrapper(model):
        model = model.module
    with_mask = getattr(model, 'with_mask', None)
    if with_mask is None or with_mask:
        return  # not a detector (classifier metrics) or has masks
    for ev in _evaluators(cfg, key):
        metric = ev.get('metric', ())
        metric = [metric] if isinstance(metric, str) else list(metric)
        if 'segm' in metric:
            rest = [m for m in metric if m != 'segm'] or ['bbox']
            raise ValueError(
                f'{config}: the {key.split("_")[0]} metric '
                f'({ev.get("type")}) evaluates {metric}, but the model '
                f'({type(model).__name__}) has no mask head and predicts '
                'boxes only; use --eval ' + ' '.join(rest) +
                ' (iou types a box model supports: bbox, proposal, '
                'proposal_fast)')


def set_metric_output_dir(cfg: Config, work_dir: str) -> None:
    """Let mmlt metrics write per-class AP json and plots into the work dir."""
    for key in ('val_evaluator', 'test_evaluator'):
        for ev in _evaluators(cfg, key):
            if str(ev.get('type', '')).startswith('LongTail') and \
                    ev.get('output_dir') is None:
                ev['output_dir'] = work_dir


def ensure_local_rank(local_rank: int) -> None:
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)


def check_args_or_exit(args) -> None:
    """The launcher's argument checks (missing config / checkpoint, bad
    ``--out`` / ``--eval``) for a run without it: one message, exit 2."""
    try:
        check_tool_args(args)
    except LaunchError as e:
        prog = osp.basename(sys.argv[0]) if sys.argv and sys.argv[0] \
            else 'mmlt'
        print(f'{prog}: error: {e}', file=sys.stderr)
        raise SystemExit(2)


def load_config(args) -> Config:
    """Config from ``args.config`` with the common arguments applied."""
    check_args_or_exit(args)
    ensure_local_rank(args.local_rank)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_launcher(cfg, args.launcher)
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    apply_eval_types(cfg, args.eval)
    set_metric_output_dir(cfg, cfg.work_dir)
    return cfg


def shutdown_dist() -> None:
    """Tear the process group down before the interpreter exits.

    Left to interpreter shutdown, gloo's worker threads can be destroyed
    while still joinable ("terminate called without an active exception",
    SIGABRT after the results were written), which turns a finished
    ``dist_test.sh`` into a non-zero exit. A barrier first, so no rank
    leaves while another still talks to it.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
