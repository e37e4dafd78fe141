#!/usr/bin/env python
"""Plot a checkpoint's per-class loss state against class frequency.

Finds the per-class state buffers that long-tail losses keep in the state
dict (by key suffix) and draws one subplot per state: the value of each
class against its training instance count (log x), coloured by LVIS
frequency group (r/c/f). A per-group mean table is printed.

Known states:

* ``*loss_cls.pos_neg`` / ``pos_grad`` / ``neg_grad``: EQLv2
  (``roi_head.bbox_head.loss_cls``), EFL/EQFL (dense heads,
  ``bbox_head.loss_cls``): accumulated positive/negative gradients.
* ``*tracker.mean_score``: LOCE mean classification score per class (the
  trailing background entry is dropped).

Usage::

    python tools/analysis/plot_loss_state.py CKPT \\
        (--train-ann ANN | --stats-file F) [--out loss_state.png]
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List

import numpy as np

# (key suffix, drop trailing background entry)
STATE_SUFFIXES = (
    ('loss_cls.pos_neg', False),
    ('loss_cls.pos_grad', False),
    ('loss_cls.neg_grad', False),
    ('tracker.mean_score', True),
)
GROUPS = ('r', 'c', 'f')


def find_states(state_dict: dict, num_classes: int) -> Dict[str, np.ndarray]:
    """``{key: per-class values}`` of the known loss states.

    Raises:
        ValueError: no known state, or a state's length does not match
            ``num_classes``.
    """
    out = {}
    for key, val in state_dict.items():
        for suffix, has_bg in STATE_SUFFIXES:
            if key == suffix or key.endswith('.' + suffix):
                v = np.asarray(val.detach().cpu().double()
                               if hasattr(val, 'detach') else val,
                               dtype=np.float64).reshape(-1)
                if has_bg:
                    v = v[:-1]
                if v.size != num_classes:
                    raise ValueError(
                        f'{key} has {v.size} classes'
                        f'{" (background dropped)" if has_bg else ""} but '
                        f'the class stats have {num_classes}; pass the '
                        'training annotations of this model')
                out[key] = v
    if not out:
        raise ValueError(
            'no known loss state in the checkpoint (looked for keys ending '
            'in ' + ', '.join(s for s, _ in STATE_SUFFIXES) +
            '); is it an EQLv2/EFL/EQFL/LOCE model?')
    return out


def group_means(states: Dict[str, np.ndarray],
                groups: np.ndarray) -> Dict[str, Dict[str, float]]:
    """``{state: {'r'|'c'|'f'|'all': mean}}`` (nan for an empty group)."""
    groups = np.asarray(groups)
    res = {}
    for key, v in states.items():
        row = {}
        for g in GROUPS:
            sel = groups == g
            row[g] = float(v[sel].mean()) if sel.any() else float('nan')
        row['all'] = float(v.mean())
        res[key] = row
    return res


def format_table(means: Dict[str, Dict[str, float]]) -> str:
    cols = list(GROUPS) + ['all']
    lines = ['| state | ' + ' | '.join(cols) + ' |',
             '|' + '---|' * (len(cols) + 1)]
    for key, row in means.items():
        lines.append(f'| {key} | ' +
                     ' | '.join(f'{row[c]:.4g}' for c in cols) + ' |')
    return '\n'.join(lines)


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--train-ann', help='LVIS training annotations')
    src.add_argument('--stats-file', help='precomputed class stats file')
    parser.add_argument('--out', help='PNG (default: loss_state.png next '
                        'to the checkpoint)')
    args = parser.parse_args(argv)

    from mmlt.datasets.class_stats import get_class_stats
    from mmlt.evaluation.plots import plot_class_states
    from mmlt.utils.ckpt_surgery import load_checkpoint_file

    ckpt = load_checkpoint_file(args.checkpoint)
    stats = get_class_stats(ann_file=args.train_ann,
                            stats_file=args.stats_file)
    groups = np.asarray(stats.groups)
    states = find_states(ckpt['state_dict'], len(stats.cat_ids))
    print(format_table(group_means(states, groups)))
    out = args.out or osp.join(
        osp.dirname(osp.abspath(args.checkpoint)), 'loss_state.png')
    plot_class_states(states, stats.instance_count, groups, out,
                      title=osp.basename(args.checkpoint))
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as e:  # missing input, unwritable --out
        print(f'plot_loss_state.py: error: {e}', file=sys.stderr)
        sys.exit(2)
