#!/usr/bin/env python
"""Post-hoc tau-normalisation of a stage-1 classifier (Kang et al., ICLR
2020): ``w_j <- w_j / ||w_j||^tau`` for the rows of every ``fc_cls.weight``
(all stages of Cascade/HTC heads); biases are kept.

    # tau-norm: every row, background included
    python tools/misc/tau_norm.py STAGE1.pth --tau 1.0 --out TAU.pth
    # tau-norm-select: only the rare + common rows (mmlt's definition)
    python tools/misc/tau_norm.py STAGE1.pth --tau 1.0 --select r c \\
        --out SEL.pth
    # weight-norm statistics per group for several tau (no checkpoint written)
    python tools/misc/tau_norm.py STAGE1.pth --tau-sweep 0 0.25 0.5 0.75 1

then test with the stage-1 config, e.g. ``./tools/dist_test.sh
configs/toy/decoupled/tau_norm.py TAU.pth 2 --eval bbox segm``.

On the toy CE model (tau = 1) normalising the background row too costs
~6 AP (its norm is the largest, 1.48 -> 1, so background scores drop);
``--select r c f`` (all foreground rows) and ``--select r c`` do not.

Rows (softmax head, C + 1 rows, background last): all rows without
``--select``; with ``--select G [G ...]`` (G in r, c, f, bg) only the rows of
those groups, every other row untouched; ``--select`` alone means ``r c``.
Groups come from mmlt's class statistics of the training annotations:
``--ann-file`` / ``--stats-file``, else the train ``ann_file`` recorded in
the checkpoint's config.

Errors (a missing checkpoint -- with the command that trains it --, an
unwritable ``--out`` or one equal to the input, a checkpoint without
``fc_cls``) exit with status 2 before any work; an existing ``--out`` is
replaced (the tool says so).
"""
import argparse
import os
import os.path as osp
import sys

import torch

from mmlt.models.layers.tau_norm import (GROUP_NAMES, classifier_weight_keys,
                                         row_norm_summary, select_rows,
                                         tau_normalize,
                                         tau_normalize_state_dict)
from mmlt.utils.ckpt_surgery import (CheckpointSurgeryError,
                                     load_checkpoint_file)
from mmlt.utils.output_paths import (OutputPathError, check_writable_file,
                                     cli_error, writing)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='tau-normalise the classifier of a checkpoint')
    p.add_argument('checkpoint', help='stage-1 checkpoint (.pth)')
    p.add_argument('--tau', type=float, default=1.0,
                   help='exponent tau (default 1.0)')
    p.add_argument('--select', nargs='*', choices=GROUP_NAMES, default=None,
                   metavar='GROUP',
                   help='normalise only the rows of these groups (r c f bg); '
                   'without values: r c. Default: all rows')
    p.add_argument('--out', help='output checkpoint')
    p.add_argument('--ann-file', help='training annotations (class groups)')
    p.add_argument('--stats-file', help='class-stats json (class groups)')
    p.add_argument('--tau-sweep', nargs='+', type=float, metavar='TAU',
                   help='print per-group row-norm statistics for these tau')
    args = p.parse_args(argv)
    if args.select is not None and not args.select:
        args.select = ['r', 'c']
    if not args.out and not args.tau_sweep:
        p.error('give --out (and/or --tau-sweep)')
    return args


def _fail(msg) -> None:
    sys.exit(cli_error(msg, 'tau_norm.py'))


def load_checkpoint(path):
    if not osp.isfile(path):
        from mmlt.engine.runner.stage1 import stage1_advice
        _fail(f'the stage-1 checkpoint {path} does not exist. ' +
              stage1_advice(None, path, override='pass the path of a '
                            'stage-1 checkpoint you have'))
    try:
        ckpt = load_checkpoint_file(path)
    except (FileNotFoundError, CheckpointSurgeryError) as e:
        _fail(e)
    return ckpt, ckpt['state_dict']


def train_ann_file_from_meta(ckpt) -> str:
    """The training ``ann_file`` of the config saved in the checkpoint."""
    from mmengine.config import Config
    text = (ckpt.get('meta') or {}).get('cfg')
    if not text:
        return None
    cfg = Config.fromstring(text, '.py')
    d = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'ann_file' not in d and isinstance(d.get('dataset'), dict):
        d = d['dataset']  # RFS / class-aware / subset wrappers
    ann = d.get('ann_file')
    if not ann:
        return None
    return osp.join(d.get('data_root') or '', ann)


def load_groups(args, ckpt):
    from mmlt.datasets.class_stats import get_class_stats
    if args.stats_file or args.ann_file:
        return get_class_stats(
            ann_file=args.ann_file, stats_file=args.stats_file).groups
    ann = train_ann_file_from_meta(ckpt)
    if ann is None or not osp.isfile(ann):
        _fail('class groups are needed (--select/--tau-sweep) but the '
                 f'training annotations {ann!r} named in the checkpoint '
                 'config are not available; pass --ann-file TRAIN_JSON or '
                 '--stats-file STATS_JSON')
    return get_class_stats(ann_file=ann).groups


def print_sweep(state_dict, groups, taus):
    for key in classifier_weight_keys(state_dict):
        w = state_dict[key]
        print(f'{key}: row norms per group (mean [min, max]); '
              'max/min = spread of the group means')
        names = list(row_norm_summary(w, groups))
        print(f"{'tau':>6}  " + '  '.join(f'{g:>22}' for g in names) +
              f"  {'max/min':>8}")
        for tau in taus:
            s = row_norm_summary(tau_normalize(w, tau), groups)
            cells = [
                f"{s[g]['mean']:.3g} [{s[g]['min']:.3g}, {s[g]['max']:.3g}]"
                for g in names
            ]
            means = [s[g]['mean'] for g in names if g != 'bg']
            spread = max(means) / max(min(means), 1e-12)
            print(f'{tau:>6g}  ' + '  '.join(f'{c:>22}' for c in cells) +
                  f'  {spread:>8.3g}')


def main(argv=None):
    args = parse_args(argv)
    if args.out:
        if osp.abspath(args.out) == osp.abspath(args.checkpoint):
            _fail(f'--out {args.out} is the input checkpoint; write the '
                  'tau-normalised one to another file')
        try:
            check_writable_file(args.out, 'output checkpoint')
        except OutputPathError as e:
            _fail(e)
    ckpt, state_dict = load_checkpoint(args.checkpoint)
    keys = classifier_weight_keys(state_dict)
    if not keys:
        _fail(f'{args.checkpoint} has no `fc_cls.weight`; tau-norm needs a '
                 'softmax bbox head with an fc_cls classifier')
    need_groups = args.select is not None or args.tau_sweep
    groups = None
    if need_groups:
        groups = load_groups(args, ckpt)
        rows_expected = len(groups) + 1
        for k in keys:
            if state_dict[k].shape[0] != rows_expected:
                _fail(f'{k} has {state_dict[k].shape[0]} rows but the '
                         f'class statistics have {len(groups)} classes '
                         f'(expected {rows_expected} rows incl. background); '
                         'use the statistics of the training set of this '
                         'checkpoint')

    if args.tau_sweep:
        print_sweep(state_dict, groups, args.tau_sweep)
    if not args.out:
        return

    rows = None if args.select is None else select_rows(groups, args.select)
    changed = tau_normalize_state_dict(state_dict, args.tau, rows)
    what = 'all rows' if rows is None else \
        f"{len(rows)} rows of groups {'+'.join(args.select)}"
    meta = dict(ckpt.get('meta') or {})
    meta['tau_norm'] = dict(
        tau=args.tau,
        select=args.select,
        rows=rows,
        keys=changed,
        source=osp.abspath(args.checkpoint))
    replaced = osp.exists(args.out)
    try:
        with writing(args.out, 'output checkpoint'):
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            torch.save({'meta': meta, 'state_dict': state_dict}, args.out)
    except OutputPathError as e:
        _fail(e)
    print(f'tau-norm (tau={args.tau:g}, {what}) applied to '
          f'{", ".join(changed)}; biases kept -> {args.out}' +
          (' (replaced the existing file)' if replaced else ''))


if __name__ == '__main__':
    main()
