#!/usr/bin/env python
"""Evaluate a checkpoint with mmlt (mmdet 3.x semantics, CPU/gloo aware).

``--eval bbox segm`` (the mmdet 2.x spelling users know) selects the iou
types of the LVIS metric; the table, per-class AP json and the per-class AP
plot go to the work dir.
"""
import argparse
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlt  # noqa: F401
from mmlt.utils.launch import (apply_eval_types, default_work_dir,
                               ensure_local_rank, set_metric_output_dir,
                               setup_launcher)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir',
                        help='the dir to save evaluation results and logs')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--eval', nargs='+', metavar='TYPE',
                        help='iou types to evaluate, e.g. --eval bbox segm')
    parser.add_argument('--show-dir', help='save drawn predictions here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
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
    cfg.load_from = args.checkpoint

    if args.show_dir:
        vis = cfg.default_hooks.get('visualization')
        if vis is None:
            raise ValueError('--show-dir needs a `visualization` hook in '
                             'default_hooks')
        vis['draw'] = True
        vis['test_out_dir'] = args.show_dir

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl file')
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            ConfigDict(type='DumpDetResults', out_file_path=args.out)
        ]

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    runner.test()
    if args.out is not None:
        print(f'predictions saved to {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
