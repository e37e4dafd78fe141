#!/usr/bin/env python
"""Evaluate a checkpoint with mmlt (mmdet 3.x semantics, CPU/gloo aware).

``--eval bbox segm`` (the mmdet 2.x spelling users know) selects the iou
types of the LVIS metric; the table, per-class AP json and the per-class AP
plot go to the work dir.
"""
import os
import os.path as osp
import sys

from mmengine.config import ConfigDict
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlt  # noqa: F401
from mmlt.utils.launch import check_iou_types, load_config, shutdown_dist
from mmlt.utils.tool_args import parse_test_args


def parse_args():
    return parse_test_args()


def main():
    args = parse_args()
    cfg = load_config(args)
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
    try:
        check_iou_types(cfg, runner.model, args.config)
    except ValueError as e:
        sys.exit(f'error: {e}')
    runner.test()
    if args.out is not None:
        write_out_meta(args, runner)
    shutdown_dist()
    if args.out is not None:
        print(f'predictions saved to {osp.abspath(args.out)}')


def write_out_meta(args, runner) -> None:
    """``<out>.meta.json`` next to the dump: what the predictions are of,
    so that tools/analysis/eval_results.py can tell a wrong config or
    --cfg-options from a right one (the dump itself has no class names)."""
    import json

    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    dataset = runner.test_loop.dataloader.dataset
    meta = dict(
        config=osp.abspath(args.config),
        checkpoint=args.checkpoint,
        cfg_options=[f'{k}={v}' for k, v in (args.cfg_options or {}).items()],
        num_images=len(dataset),
        classes=list(dataset.metainfo.get('classes') or []))
    with open(args.out + '.meta.json', 'w') as f:
        json.dump(meta, f, indent=1)


if __name__ == '__main__':
    main()
