#!/usr/bin/env python
"""Train a detector with mmlt (mmdet 3.x semantics, CPU/gloo aware)."""
import sys

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlt  # noqa: F401  (registers modules, installs the checkpoint fix)
from mmlt.engine.runner.decoupled_runner import MissingStage1Error
from mmlt.engine.runner.freeze import FreezeError
from mmlt.utils.launch import check_iou_types, load_config, shutdown_dist
from mmlt.utils.tool_args import parse_train_args


def parse_args():
    return parse_train_args()


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
