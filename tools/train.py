#!/usr/bin/env python
"""Train a detector with mmlt (mmdet 3.x semantics, CPU/gloo aware)."""
import argparse

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlt  # noqa: F401  (registers modules, installs the checkpoint fix)
from mmlt.utils.launch import (apply_eval_types, default_work_dir,
                               ensure_local_rank, set_metric_output_dir,
                               setup_launcher)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='enable automatically scaling LR')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument(
        '--no-validate', action='store_true',
        help='do not evaluate during training (evaluate later with '
        'tools/test.py)')
    parser.add_argument(
        '--eval', nargs='+', metavar='TYPE',
        help='iou types to evaluate during validation (bbox segm); sets the '
        'metric list of the val/test evaluators')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    ensure_local_rank(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_launcher(cfg, args.launcher)
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    apply_eval_types(cfg, args.eval)
    set_metric_output_dir(cfg, cfg.work_dir)
    if args.no_validate:
        # mmengine builds no ValLoop when all three are None
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr.'
                               'base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
