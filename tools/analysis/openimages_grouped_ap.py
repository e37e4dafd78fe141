#!/usr/bin/env python
"""Grouped AP (EQLv2/EFL OpenImages report) of a saved detection result.

Classes are sorted by ascending number of training instances and cut into
``--num-groups`` equal groups (500 OpenImages challenge classes -> 5 x 100);
the table gives mAP per group (mAP0 = rarest) and over all classes, at IoU
0.5 by default (``--iou 0.5:0.95`` for COCO's average).  See
``mmlt/evaluation/metrics/grouped_ap.py`` for the protocol.

    A=data/openimages/annotations
    python tools/analysis/openimages_grouped_ap.py \\
        $A/openimages_challenge_2019_train_bbox.json \\
        $A/openimages_challenge_2019_val_bbox.json \\
        work_dirs/eqlv2_oi/results.bbox.json [--out grouped_ap.json]

The results file is COCO box results json, as written by ``tools/test.py``
with ``test_evaluator.format_only=True`` and ``outfile_prefix=PREFIX``
(``PREFIX.bbox.json``).  Exit status: 0 ok, 1 bad input.

Detections with a NaN/inf score or box, a negative width/height or an
image/category id that is not in the val json are an error (exit 1, the
message says how many of which images and the likely cause: a diverged
model); ``--drop-invalid`` evaluates the others and prints how many were
dropped.
"""
import argparse
import contextlib
import io
import json
import os
import os.path as osp
import sys

from mmlt.datasets.class_stats import AnnotationError
from mmlt.evaluation.metrics.grouped_ap import (evaluate_grouped_ap,
                                                load_detections,
                                                load_train_stats,
                                                parse_iou_thrs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='mAP per training-frequency group (OpenImages '
        'long-tail report) of COCO-format detection results')
    parser.add_argument(
        'train_ann', help='COCO-format training annotation json (source of '
        'the per-class training instance counts)')
    parser.add_argument('val_ann', help='COCO-format val annotation json')
    parser.add_argument(
        'results', help='COCO box results json (e.g. PREFIX.bbox.json)')
    parser.add_argument(
        '--iou',
        default='0.5',
        help="IoU threshold, or 'lo:hi[:step]' to average (default 0.5, "
        "the challenge metric; '0.5:0.95' = COCO AP)")
    parser.add_argument(
        '--num-groups', type=int, default=5, help='number of groups')
    parser.add_argument(
        '--max-dets',
        type=int,
        default=300,
        help='top-scoring detections kept per image (<= 0: all)')
    parser.add_argument(
        '--image-labels',
        choices=['auto', 'on', 'off'],
        default='auto',
        help='ignore detections of classes that are not verified image-level '
        'labels of their image (auto: when the val json has '
        'pos_category_ids/neg_category_ids)')
    parser.add_argument(
        '--format',
        choices=['markdown', 'ascii'],
        default='markdown',
        help='table format')
    parser.add_argument(
        '--out', help='also write summary, groups and per-class AP (json)')
    parser.add_argument(
        '--drop-invalid',
        action='store_true',
        help='drop detections with NaN/inf scores or boxes, negative '
        'width/height or unknown image/category ids (the count is printed) '
        'instead of stopping with an error')
    return parser.parse_args(argv)


def load_val(path: str):
    from mmdet.datasets.api_wrappers import COCO
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'val annotation file {path} does not exist; pass the '
            'COCO-format val json (e.g. openimages2coco output)')
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            api = COCO(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(
            f'val annotation file {path} is not a JSON file ({e})') from e
    except (KeyError, TypeError, AssertionError) as e:
        raise AnnotationError(
            f'val annotation file {path} is not a COCO-format annotation '
            f'file ({type(e).__name__}: {e}); it needs images, annotations '
            'and categories') from e
    if not api.cats:
        raise AnnotationError(f'val annotation file {path} has no categories')
    return api


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        thrs = parse_iou_thrs(args.iou)
        for role, path in (('training annotation', args.train_ann),
                           ('val annotation', args.val_ann),
                           ('detection results', args.results)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'{role} file {path} does not exist')
        stats = load_train_stats(
            args.train_ann, owner='openimages_grouped_ap')
        val = load_val(args.val_ann)
        dets = load_detections(args.results)
        use_labels = dict(auto=None, on=True, off=False)[args.image_labels]
        result = evaluate_grouped_ap(
            val,
            dets,
            stats,
            iou_thrs=thrs,
            num_groups=args.num_groups,
            max_dets=args.max_dets,
            use_image_labels=use_labels,
            train_src=args.train_ann,
            val_src=args.val_ann,
            det_src=args.results,
            copy=False,
            invalid_detections='drop' if args.drop_invalid else 'error',
            drop_hint='--drop-invalid')
    except (OSError, ValueError, TypeError) as e:
        # AnnotationError is a ValueError; FileNotFoundError an OSError
        print(f'error: {e}', file=sys.stderr)
        return 1
    meta = result.meta
    print(f'Grouped {result.ap_name}: {args.results}\n'
          f'  val: {args.val_ann}\n'
          f'  groups by training instances of: {args.train_ann}\n'
          f"  max dets/img: {meta['max_dets']}, image-level labels "
          f"{'used' if meta['use_image_labels'] else 'not used'}, "
          f'ignored = classes without val GT\n')
    print(result.table(args.format))
    if args.out:
        d = osp.dirname(osp.abspath(args.out))
        os.makedirs(d, exist_ok=True)
        out = result.to_dict()
        out.update(
            train_ann=args.train_ann, val_ann=args.val_ann,
            results=args.results)
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1)
        print(f'\nsaved to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
