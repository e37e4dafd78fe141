"""Command-line arguments of ``tools/train.py`` and ``tools/test.py``.

Standard library (plus mmengine's ``DictAction``) only: the launcher
(``launch_guard.py``, run by path before torch is imported) loads this file
to check a run's arguments with the tools' own parsers before any worker
starts."""
import argparse
import os
import os.path as osp

IOU_TYPES = ('bbox', 'segm', 'proposal', 'proposal_fast')


def add_common_args(parser) -> None:
    """Arguments shared by tools/train.py and tools/test.py."""
    from mmengine.config import DictAction
    parser.add_argument('--work-dir',
                        help='the dir to save logs, checkpoints, results')
    parser.add_argument(
        '--eval', nargs='+', metavar='TYPE',
        help='iou types to evaluate (bbox segm); sets the metric list of '
        'the val/test evaluators')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_train_args(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description='Train a detector')
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
    return parser.parse_args(argv)


def parse_test_args(argv=None, prog=None):
    parser = argparse.ArgumentParser(
        prog=prog, description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show-dir', help='save drawn predictions here')
    add_common_args(parser)
    args = parser.parse_args(argv)
    bad = [t for t in (args.eval or []) if t not in IOU_TYPES]
    if bad:
        parser.error(f'--eval: unknown iou type(s) {bad}; choose from '
                     f'{", ".join(IOU_TYPES)}')
    if args.out:
        # the dump is written after inference: check the place before it
        parent = osp.dirname(osp.abspath(args.out))
        while not osp.exists(parent):
            parent = osp.dirname(parent)
        if osp.isdir(args.out) or not osp.isdir(parent) or \
                not os.access(parent, os.W_OK):
            parser.error(f'--out {args.out}: cannot write a file there '
                         f'({parent} is not a writable folder)')
    return args


# tools/<name> -> its parser (the launcher's lookup)
TOOL_PARSERS = {'train.py': parse_train_args, 'test.py': parse_test_args}
