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

``--out-dir`` already holding the same mapping is left alone; one holding a
mapping of other annotations or bin edges is refused without ``--force``.
Errors (missing input, unwritable ``--out-dir``) exit with status 2.
"""
import argparse
import json
import os.path as osp
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
    parser.add_argument(
        '--force', action='store_true',
        help='overwrite a mapping of other annotations / bin edges in '
        '--out-dir')
    args = parser.parse_args(argv)

    from mmlt.models.layers import GroupSoftmaxLabelMapping
    from mmlt.models.layers.label_mapping import JSON_FILE
    from mmlt.utils.output_paths import (OutputPathError, check_writable_dir,
                                         cli_error, refuse_overwrite, writing)
    try:
        check_writable_dir(args.out_dir, 'mapping folder')
        mapping = GroupSoftmaxLabelMapping(
            num_classes=args.num_classes,
            ann_file=args.ann_file,
            stats_file=args.stats_file,
            bin_edges=args.bin_edges)
    except (AnnotationError, FileNotFoundError, ValueError,
            OutputPathError) as e:
        return cli_error(e, 'bags_mapping.py')
    print(format_summary(mapping))
    # bags_mapping.json describes the whole mapping (the .pt files follow
    # from it): the same json means the same files
    old_json = osp.join(args.out_dir, JSON_FILE)
    new = json.loads(json.dumps(mapping.summary()))
    if osp.isfile(old_json):
        try:
            with open(old_json) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old == new:
            print(f'{args.out_dir} already holds this mapping; unchanged')
            return 0
        if not args.force:
            return cli_error(
                refuse_overwrite(
                    args.out_dir, 'holds a BAGS mapping of other '
                    f"annotations or bin edges ({JSON_FILE}: source "
                    f"{(old or {}).get('source')}, bin edges "
                    f"{(old or {}).get('bin_edges')})",
                    f'writes the mapping of {mapping.source}, bin edges '
                    f'{list(mapping.bin_edges)}'), 'bags_mapping.py')
    try:
        with writing(args.out_dir, 'mapping folder'):
            paths = mapping.save(args.out_dir)
    except OutputPathError as e:
        return cli_error(e, 'bags_mapping.py')
    for path in paths:
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
