"""Write the Balanced Group Softmax (BAGS) group mapping of a training set.

    python tools/misc/bags_mapping.py --ann-file TRAIN.json --out-dir DIR
        [--stats-file STATS.json] [--bin-edges 10 100 1000]
        [--num-classes C]

Writes ``DIR/label2binlabel.pt`` (LongTensor [G, C+1]), ``DIR/pred_slice.pt``
(LongTensor [G, 2]) and ``DIR/bags_mapping.json`` (group ranges, sizes,
logit slices, class names and instance counts per group) and prints a
summary.  A config loads the files back with
``label_mapping=dict(type='GroupSoftmaxLabelMapping', mapping_file=DIR,
num_classes=C)``.  Layout and label convention: see
``mmlt/models/layers/label_mapping.py``.
"""
import argparse
import sys

from mmlt.datasets.class_stats import AnnotationError


def format_summary(mapping) -> str:
    lines = [
        f'{mapping.source}',
        f'  classes: {mapping.num_classes}   groups: {mapping.num_groups} '
        f'(incl. background)   logits: {mapping.num_channels}',
        f"  {'group':<7}{'range':<18}{'#cls':>6}{'slice':>14}",
    ]
    for g in range(mapping.num_groups):
        start, length = mapping.pred_slice[g].tolist()
        name = mapping.group_names[g]
        lines.append(f'  {g:<7}{name:<18}{mapping.group_sizes[g]:>6}'
                     f'{f"[{start}, {start + length})":>14}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Write the BAGS label2binlabel / pred_slice files')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--ann-file', help='LVIS-format training annotations')
    src.add_argument('--stats-file', help='class-stats json '
                     '(tools/misc/class_stats.py)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--bin-edges',
        type=float,
        nargs='+',
        default=[10, 100, 1000],
        help='instance-count bin edges (bisect_right); default 10 100 1000')
    parser.add_argument(
        '--num-classes', type=int, help='expected number of classes')
    args = parser.parse_args(argv)

    from mmlt.models.layers import GroupSoftmaxLabelMapping
    try:
        mapping = GroupSoftmaxLabelMapping(
            num_classes=args.num_classes,
            ann_file=args.ann_file,
            stats_file=args.stats_file,
            bin_edges=args.bin_edges)
    except (AnnotationError, FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(format_summary(mapping))
    for path in mapping.save(args.out_dir):
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
