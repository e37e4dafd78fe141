#!/usr/bin/env python
"""One AP/APr/APc/APf table (bbox, segm) over several evaluated work dirs.

Each work dir's newest ``<timestamp>/<timestamp>.json`` holding LVIS metric
keys (written by ``tools/test.py``) is read. Usage::

    python tools/analysis/compare_runs.py work_dirs/a work_dirs/b [--names A B]
"""
import argparse
import glob
import json
import os.path as osp
import sys

KEYS = ('AP', 'APr', 'APc', 'APf')


def latest_metrics(work_dir: str) -> dict:
    """Metrics of the newest evaluation in ``work_dir`` (LVIS keys)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    for path in reversed(files):
        try:
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError):
            continue
        for rec in reversed(lines):
            if any(k.startswith('lvis/') for k in rec):
                return rec
    raise FileNotFoundError(
        f'no LVIS evaluation result under {work_dir}/*/*.json; run '
        f'tools/test.py CONFIG CKPT --work-dir {work_dir} first')


def markdown_table(rows) -> str:
    iou_types = [t for t in ('bbox', 'segm')
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--names', nargs='+',
                        help='row names (default: work dir base names)')
    args = parser.parse_args(argv)
    names = args.names or [osp.basename(osp.normpath(d))
                           for d in args.work_dirs]
    if len(names) != len(args.work_dirs):
        parser.error('--names needs one name per work dir')
    rows = [(n, latest_metrics(d)) for n, d in zip(names, args.work_dirs)]
    print(markdown_table(rows))


if __name__ == '__main__':
    sys.exit(main())
