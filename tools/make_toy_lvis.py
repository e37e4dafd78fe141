#!/usr/bin/env python
"""Generate mmlt's synthetic long-tailed LVIS v1 data.

Toy image dataset (default; idempotent, reuses a matching cache)::

    python tools/make_toy_lvis.py [--out data/toy_lvis] [--seed 0]
        [--scale 1] [--img-size 160] [--force] [--no-progress]

Annotation-only json at real LVIS v1 scale (no images)::

    python tools/make_toy_lvis.py --lvis-scale --split train|val
        [--num-images N] [--num-classes 1203] --out FILE.json

A few images in a real dataset's format, category set and image sizes
(what tools/misc/smoke_configs.py runs the real configs on)::

    python tools/make_toy_lvis.py --real-format lvis_v1|lvis_v0.5|openimages|coco|voc
        --out DATA_ROOT [--num-images N] [--num-val-images N]

Existing output (all modes): output that matches the arguments is kept (toy
set, --lvis-scale) or rewritten byte for byte (--real-format), so a repeated
call is a no-op; anything else at --out (data of other arguments, or files
this tool did not write, e.g. a real LVIS copy) is refused unless --force.
An unwritable --out is reported before any work. Both errors exit with
status 2 and name the path.
"""
import argparse
import os.path as osp
import time

from mmlt.datasets.toy_lvis import (REAL_FORMATS, format_summary,
                                    make_lvis_scale_annotations,
                                    make_real_format_data, make_toy_lvis)
from mmlt.utils.output_paths import OutputPathError, cli_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate synthetic long-tailed LVIS v1 data.')
    parser.add_argument(
        '--out',
        default=None,
        help='output folder of the toy dataset (default data/toy_lvis), or '
        'the json file with --lvis-scale')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--scale',
        type=int,
        default=1,
        help='toy dataset: multiplies the number of classes of every '
        'frequency group (60 classes per unit)')
    parser.add_argument('--img-size', type=int, default=160)
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if cached, and overwrite whatever --out holds '
        '(data of other arguments, files not written by this tool)')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument(
        '--lvis-scale',
        action='store_true',
        help='write an annotation-only json at real LVIS v1 scale')
    parser.add_argument('--split', choices=['train', 'val'], default='train')
    parser.add_argument(
        '--num-images',
        type=int,
        default=None,
        help='--lvis-scale: images of the split (default: as LVIS v1); '
        'fewer scales classes and boxes down proportionally')
    parser.add_argument('--num-classes', type=int, default=1203)
    parser.add_argument(
        '--real-format',
        choices=REAL_FORMATS,
        help='write a few images in this dataset\'s format and category '
        'set into --out (the folder a config\'s data_root names)')
    parser.add_argument(
        '--num-val-images',
        type=int,
        default=None,
        help='--real-format: val/test images (default per format)')
    parser.add_argument(
        '--train-images',
        type=int,
        default=None,
        help='--lvis-scale --split val: train size whose class profile '
        'the val file shares')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except (OutputPathError, ValueError) as e:
        raise SystemExit(cli_error(e, 'make_toy_lvis.py'))


def run(args):
    progress = not args.no_progress
    if args.real_format:
        if args.out is None:
            raise ValueError('--real-format needs --out DATA_ROOT')
        files = make_real_format_data(
            args.out, args.real_format, seed=args.seed,
            train_images=args.num_images, val_images=args.num_val_images,
            force=args.force)
        for split, path in files.items():
            print(f'{args.real_format} {split}: {path}')
        return
    if args.lvis_scale:
        if args.out is None:
            raise ValueError('--lvis-scale needs --out FILE.json')
        t0 = time.perf_counter()
        info = make_lvis_scale_annotations(
            args.out,
            split=args.split,
            seed=args.seed,
            num_images=args.num_images,
            num_classes=args.num_classes,
            progress=progress,
            train_images=args.train_images,
            return_info=True,
            force=args.force)
        seconds = time.perf_counter() - t0
        g = info['groups']
        print(f"LVIS-scale {args.split} annotations at {info['path']} "
              f"({seconds:.1f} s, {osp.getsize(info['path']) / 2**20:.0f} "
              'MiB)')
        print(f"  classes: {info['num_classes']} (rare {g['r']}, common "
              f"{g['c']}, frequent {g['f']})")
        print(f"  images: {info['images']} ({info['empty_images']} empty), "
              f"instances: {info['instances']}")
        return
    out = args.out or osp.join('data', 'toy_lvis')
    info = make_toy_lvis(
        out,
        seed=args.seed,
        scale=args.scale,
        img_size=args.img_size,
        progress=progress,
        force=args.force)
    print(format_summary(info))


if __name__ == '__main__':
    main()
