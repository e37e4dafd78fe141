#!/usr/bin/env python
"""Compare evaluated runs: an AP/APr/APc/APf table (bbox, segm) and a PNG.

Each input is a work dir, whose newest ``<timestamp>/<timestamp>.json``
holding LVIS metric keys (written by ``tools/test.py``) is read, or such a
result json itself. The PNG (``--out-png``, default ``compare_runs.png`` in
the current dir, or next to ``--out``; ``--no-png`` skips it) shows

* a grouped bar chart of APr/APc/APf (bbox and segm where present) per run;
* per-class AP against training instance count (log x), one colour per run,
  from the ``per_class_ap.json`` the LVIS metric writes into the work dir.
  Instance counts come from that file, else from ``--train-ann`` /
  ``--stats-file``.

Usage::

    python tools/analysis/compare_runs.py work_dirs/a work_dirs/b \\
        [--names A B] [--out table.md] [--out-png cmp.png | --no-png]
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

KEYS = ('AP', 'APr', 'APc', 'APf')
GROUP_KEYS = ('APr', 'APc', 'APf')
IOU_TYPES = ('bbox', 'segm')


def _lvis_record(path: str) -> Optional[dict]:
    """Last record with ``lvis/`` keys of a (json-lines) result file."""
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return None
    for rec in reversed(lines):
        if isinstance(rec, dict) and any(k.startswith('lvis/') for k in rec):
            return rec
    return None


def latest_metrics(work_dir: str) -> dict:
    """Metrics of the newest evaluation in ``work_dir`` (LVIS keys)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    for path in reversed(files):
        rec = _lvis_record(path)
        if rec is not None:
            return rec
    raise FileNotFoundError(
        f'no LVIS evaluation result under {work_dir}/*/*.json; run '
        f'tools/test.py CONFIG CKPT --work-dir {work_dir} first')


def load_run(path: str) -> Tuple[dict, Optional[str]]:
    """``(metrics, per_class_ap.json path or None)`` of a work dir or of a
    result json written by ``tools/test.py``."""
    if osp.isdir(path):
        pc = osp.join(path, 'per_class_ap.json')
        return latest_metrics(path), pc if osp.isfile(pc) else None
    if not osp.exists(path):
        raise FileNotFoundError(f'{path} does not exist (expected a work '
                                'dir or a result json from tools/test.py)')
    rec = _lvis_record(path)
    if rec is None:
        raise ValueError(f'{path} holds no LVIS metrics (no "lvis/..." key)')
    # <work_dir>/<ts>/<ts>.json: per_class_ap.json is in <work_dir>
    here = osp.dirname(osp.abspath(path))
    for d in (here, osp.dirname(here)):
        pc = osp.join(d, 'per_class_ap.json')
        if osp.isfile(pc):
            return rec, pc
    return rec, None


def run_name(path: str) -> str:
    path = osp.normpath(path)
    if osp.isfile(path):
        # <work_dir>/<ts>/<ts>.json -> work dir name
        parent = osp.dirname(osp.dirname(osp.abspath(path)))
        return osp.basename(parent) or osp.splitext(osp.basename(path))[0]
    return osp.basename(path)


def markdown_table(rows) -> str:
    iou_types = [t for t in IOU_TYPES
                 if any(f'lvis/{t}_AP' in m for _, m in rows)]
    head = ['method'] + [f'{t} {k}' for t in iou_types for k in KEYS]
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '---|' * len(head)]
    for name, m in rows:
        vals = []
        for t in iou_types:
            for k in KEYS:
                v = m.get(f'lvis/{t}_{k}')
                vals.append('n/a' if v is None or v < 0 else f'{100 * v:.1f}')
        out.append('| ' + ' | '.join([name] + vals) + ' |')
    return '\n'.join(out)


def group_aps(rows) -> Dict[str, Dict[str, Optional[float]]]:
    """``{run: {'bbox APr': AP, ...}}`` for the IoU types any run has."""
    iou_types = [t for t in IOU_TYPES
                 if any(f'lvis/{t}_AP' in m for _, m in rows)]
    return {
        name: {f'{t} {k}': m.get(f'lvis/{t}_{k}')
               for t in iou_types for k in GROUP_KEYS}
        for name, m in rows
    }


def per_class_series(runs: List[Tuple[str, Optional[str]]],
                     train_counts: Optional[Dict[int, int]] = None):
    """``{iou: {run: (counts, aps)}}`` from each run's per_class_ap.json.

    Raises:
        ValueError: a record has no ``train_instance_count`` and
            ``train_counts`` is missing or lacks its class.
    """
    out: Dict[str, Dict[str, tuple]] = {}
    for name, pc_file in runs:
        if pc_file is None:
            continue
        with open(pc_file) as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise ValueError(f'{pc_file}: expected {{iou_type: [records]}}')
        for iou, records in data.items():
            counts, aps = [], []
            for r in records:
                n = r.get('train_instance_count')
                if n is None:
                    if train_counts is None:
                        raise ValueError(
                            f'{pc_file} has no train_instance_count for '
                            f'class {r.get("cat_id")}; pass --train-ann '
                            'or --stats-file')
                    if int(r['cat_id']) not in train_counts:
                        raise ValueError(
                            f'class {r["cat_id"]} of {pc_file} is not in '
                            'the training annotations given by '
                            '--train-ann/--stats-file')
                    n = train_counts[int(r['cat_id'])]
                counts.append(n)
                aps.append(r.get('ap'))
            out.setdefault(iou, {})[name] = (counts, aps)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs or result json files')
    parser.add_argument('--names', nargs='+',
                        help='row names (default: work dir base names)')
    parser.add_argument('--out', help='also write the table to this file')
    parser.add_argument('--out-png', help='comparison PNG (default: '
                        'compare_runs.png here, or next to --out)')
    parser.add_argument('--no-png', action='store_true',
                        help='only print the table')
    src = parser.add_mutually_exclusive_group()
    src.add_argument('--train-ann', help='LVIS training annotations, for '
                     'instance counts missing from per_class_ap.json')
    src.add_argument('--stats-file', help='class stats file instead of '
                     '--train-ann')
    args = parser.parse_args(argv)
    names = args.names or [run_name(d) for d in args.work_dirs]
    if len(names) != len(args.work_dirs):
        parser.error('--names needs one name per work dir')
    if len(set(names)) != len(names):
        parser.error(f'run names must be unique, got {names}; use --names')
    loaded = [load_run(d) for d in args.work_dirs]
    rows = [(n, m) for n, (m, _) in zip(names, loaded)]
    table = markdown_table(rows)
    print(table)
    if args.out:
        if osp.dirname(args.out):
            os.makedirs(osp.dirname(args.out), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    if args.no_png:
        return 0

    train_counts = None
    if args.train_ann or args.stats_file:
        from mmlt.datasets.class_stats import get_class_stats
        stats = get_class_stats(
            ann_file=args.train_ann, stats_file=args.stats_file)
        train_counts = {int(c): int(n) for c, n in
                        zip(stats.cat_ids, stats.instance_count)}
    pcs = [(n, pc) for n, (_, pc) in zip(names, loaded)]
    for n, pc in pcs:
        if pc is None:
            print(f'warning: no per_class_ap.json for {n}; it is left out '
                  'of the per-class plot', file=sys.stderr)
    series = per_class_series(pcs, train_counts)

    from mmlt.evaluation.plots import plot_run_comparison
    out_png = args.out_png or osp.join(
        osp.dirname(args.out) if args.out else '.', 'compare_runs.png')
    plot_run_comparison(group_aps(rows), series, out_png)
    print(f'wrote {out_png}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as e:  # missing input, unwritable --out
        print(f'compare_runs.py: error: {e}', file=sys.stderr)
        sys.exit(2)
