"""Class statistics of an LVIS-format annotation file.

    python tools/misc/class_stats.py ANN_JSON [--out stats.json] [--no-strict]

Validates the file (same checks as ``LongTailLVISDataset``), prints the
number of classes per frequency group, #images and count ranges, and with
``--out`` writes the stats json that configs can pass as ``stats_file=``
(an existing one with the same content is left alone, one with other
statistics is refused without ``--force``). Errors exit with status 2.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

from mmlt.datasets.class_stats import (GROUPS, AnnotationError, ClassStats,
                                       get_class_stats)
from mmlt.utils.output_paths import (OutputPathError, check_writable_file,
                                     cli_error, refuse_overwrite, writing)

GROUP_NAMES = dict(r='rare', c='common', f='frequent')


def format_summary(stats: ClassStats) -> str:
    lines = [
        f'{stats.source}',
        f'  classes: {stats.num_classes}   images: {stats.num_images}   '
        f'instances: {int(stats.instance_count.sum())}',
        f"  {'group':<9}{'#cls':>6}{'img min':>9}{'img max':>9}"
        f"{'inst min':>10}{'inst max':>10}",
    ]
    idx = stats.group_indices()
    for g in GROUPS + ('all', ):
        sel = np.arange(stats.num_classes) if g == 'all' else idx[g]
        if len(sel) == 0:
            lines.append(f'  {GROUP_NAMES.get(g, g):<9}{0:>6}')
            continue
        ic, nc = stats.image_count[sel], stats.instance_count[sel]
        lines.append(f'  {GROUP_NAMES.get(g, g):<9}{len(sel):>6}'
                     f'{ic.min():>9}{ic.max():>9}{nc.min():>10}{nc.max():>10}')
    absent = int((stats.image_count == 0).sum())
    if absent:
        lines.append(f'  {absent} classes have no annotation in this file')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Class statistics of an LVIS-format annotation json')
    parser.add_argument('ann_file', help='LVIS-format annotation json')
    parser.add_argument('--out', help='write the stats json here')
    parser.add_argument(
        '--no-strict',
        action='store_true',
        help='allow categories without frequency/image_count (groups are '
        'then derived from the annotations)')
    parser.add_argument(
        '--no-cache', action='store_true', help='ignore the stats cache')
    parser.add_argument(
        '--force', action='store_true',
        help='overwrite an --out file that holds other statistics')
    args = parser.parse_args(argv)
    try:
        if args.out:  # before reading a (large) annotation file
            check_writable_file(args.out, 'stats file')
        stats = get_class_stats(
            args.ann_file, strict=not args.no_strict, cache=not args.no_cache)
    except (AnnotationError, FileNotFoundError, OutputPathError) as e:
        return cli_error(e, 'class_stats.py')
    print(format_summary(stats))
    if args.out:
        try:
            _save(stats, args.out, args.force)
        except OutputPathError as e:
            return cli_error(e, 'class_stats.py')
    return 0


def _save(stats: ClassStats, out: str, force: bool) -> None:
    """Write the stats json; an existing file with the same content is
    left alone, one with other content is refused without ``force``."""
    tmp = f'{out}.{os.getpid()}.tmp'
    with writing(out, 'stats file'):
        stats.save(tmp)
        with open(tmp, 'rb') as f:
            data = f.read()
        old = None
        if osp.isfile(out):
            with open(out, 'rb') as f:
                old = f.read()
        if old == data:
            os.remove(tmp)
            print(f'{out} is up to date')
            return
        if old is not None and not force:
            os.remove(tmp)
            raise refuse_overwrite(
                out, 'holds other class statistics (another annotation '
                'file?)', f'writes the statistics of {stats.source}')
        os.replace(tmp, out)
    print(f'wrote {out}')


if __name__ == '__main__':
    sys.exit(main())
