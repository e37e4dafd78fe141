"""Class statistics of an LVIS-format annotation file.

    python tools/misc/class_stats.py ANN_JSON [--out stats.json] [--no-strict]

Validates the file (same checks as ``LongTailLVISDataset``), prints the
number of classes per frequency group, #images and count ranges, and with
``--out`` writes the stats json that configs can pass as ``stats_file=``.
"""
import argparse
import sys

import numpy as np

from mmlt.datasets.class_stats import (GROUPS, AnnotationError, ClassStats,
                                       get_class_stats)

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
    args = parser.parse_args(argv)
    try:
        stats = get_class_stats(
            args.ann_file, strict=not args.no_strict, cache=not args.no_cache)
    except (AnnotationError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(format_summary(stats))
    if args.out:
        stats.save(args.out)
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
