#!/usr/bin/env python
"""Train a detector with mmlt (mmdet 3.x semantics, CPU/gloo aware)."""
import argparse
import sys

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlt  # noqa: F401  (registers modules, installs the checkpoint fix)
from mmlt.engine.runner.decoupled_runner import MissingStage1Error
from mmlt.engine.runner.freeze import FreezeError
from mmlt.utils.launch import (add_common_args, check_iou_types, load_config,
                               shutdown_dist)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
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
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args)
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
    if cfg.get('val_evaluator') is not None:
        try:  # before training, not at the first validation
            check_iou_types(cfg, runner.model, args.config, 'val_evaluator')
        except ValueError as e:
            sys.exit(f'error: {e}')
    try:
        runner.train()
    except (FreezeError, MissingStage1Error) as e:
        # a stage 2 without / with the wrong stage-1 checkpoint: the message
        # says what to train or load; a traceback would bury it
        sys.exit(f'error: {e}')
    shutdown_dist()


if __name__ == '__main__':
    main()
