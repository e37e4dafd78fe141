#!/usr/bin/env python
"""Draw a long-tailed multi-label subset (COCO-MLT / VOC-MLT) of COCO or VOC.

    python tools/create_longtail_dataset.py coco data/coco/annotations/instances_train2017.json \\
        --out data/coco/longtail2017                      # max 1200, min 1
    python tools/create_longtail_dataset.py voc data/VOCdevkit/VOC2012 \\
        --out data/VOCdevkit/longtail2012                 # max 800, min 1
    # statistics of an existing list (e.g. the original's img_id.pkl, text):
    python tools/create_longtail_dataset.py coco ANN --img-ids img_id.pkl --out DIR

The Distribution-Balanced loss repo's procedure (``tools/
create_longtail_dataset.py`` there), seeded:

1. reference counts from a Pareto(b) pdf: ``x = linspace(ppf(0), ppf(0.99),
   C)``, ``n_k = int(pdf(x_k) (max - min) / b + min)`` (so n_0 = max);
2. classes are visited in descending order of ``sum_i P(c | i)`` (column
   sums of the co-occurrence matrix of the full set); the k-th visited
   class gets the target n_k: random images containing it are added (at
   most all of them) or removed from the selection until its current count
   equals the target. Other classes' counts change as a side effect, so
   the final counts only roughly follow the profile.

Existing files in ``--out``: identical ones are left as they are (a rerun
with the same arguments is a no-op); files with other content are refused
(exit 2, naming them) unless ``--force``; an unwritable ``--out`` is
reported (exit 2) before the annotations are loaded.

Written to ``--out``: ``img_id.txt`` (selected ids, one per line, in file
order), ``class_freq.json`` (class_freq, neg_class_freq, condition_prob,
names, cat_ids: the original's ``class_freq.pkl`` fields, read by
``DistributionBalancedLoss(freq_file=...)`` and ``MultiLabelMetric``) and
``class_split.json`` (head >= 100, medium 20-99, tail < 20 images). The
per-class counts are printed.

Differences from the original: one ``random.Random(seed)`` draws from
sorted candidate lists (the original samples Python sets, whose order is
not reproducible across runs, and needs Python < 3.11); VOC targets are
clipped to the available images like COCO's (the original's VOC branch
fails there); images come straight from the annotation files (no
``terse_gt`` pickle).
"""
import argparse
import json
import os
import os.path as osp
import random
import sys
from typing import Optional, Sequence

import numpy as np

from mmlt.datasets.class_stats import (SPLITS, AnnotationError,
                                       load_annotation_json,
                                       multilabel_csr_from_json,
                                       multilabel_freq_info,
                                       multilabel_split, read_img_id_file,
                                       split_indices)
from mmlt.utils.output_paths import (OutputPathError, check_writable_dir,
                                     cli_error, writing)

DEFAULT_MAX = dict(coco=1200, voc=800)


def pareto_targets(num_classes: int,
                   max_count: int,
                   min_count: int = 1,
                   b: float = 6.0,
                   tail: float = 0.99) -> np.ndarray:
    """Reference counts (int64[C], non-increasing, first = max_count) of a
    Pareto(b) pdf (scale 1: ``pdf(x) = b x^-(b+1)``, ``ppf(q) = (1 -
    q)^(-1/b)``)."""
    if num_classes < 1:
        raise ValueError('num_classes must be >= 1')
    if not 0 <= min_count <= max_count:
        raise ValueError(f'need 0 <= min ({min_count}) <= max ({max_count})')
    if not b > 0 or not 0 < tail < 1:
        raise ValueError(f'need b > 0 and 0 < tail < 1, got {b}, {tail}')
    x = np.linspace(1.0, (1.0 - tail)**(-1.0 / b), num_classes)
    pdf = b * x**(-(b + 1))
    return (pdf * (max_count - min_count) / b + min_count).astype(np.int64)


def _dense(offsets: np.ndarray, labels: np.ndarray,
           num_classes: int) -> np.ndarray:
    n = len(offsets) - 1
    gt = np.zeros((n, num_classes), dtype=np.int64)
    gt[np.repeat(np.arange(n), np.diff(offsets)), labels] = 1
    return gt


def draw_longtail(offsets: np.ndarray,
                  labels: np.ndarray,
                  num_classes: int,
                  targets: np.ndarray,
                  seed: int = 0,
                  progress: bool = False) -> dict:
    """Select images so that class counts follow ``targets`` (see the module
    docstring).

    Args:
        offsets / labels: per-image labels (CSR) of the full set.
        targets: int[C], the count wanted for the k-th visited class.

    Returns:
        dict: ``selected`` (sorted image indices), ``order`` (visited
        classes), ``targets_by_class`` (target of each class), ``counts``
        (final #images per class), ``available`` (#images per class in
        the full set), ``clipped`` (classes whose target exceeded their
        images).
    """
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) != num_classes:
        raise ValueError(f'{len(targets)} targets for {num_classes} classes')
    gt = _dense(offsets, labels, num_classes)
    from mmlt.datasets.class_stats import cooccurrence_prob
    sample_prob = cooccurrence_prob(offsets, labels, num_classes).sum(0)
    order = np.argsort(-sample_prob, kind='stable')
    cls_images = [np.flatnonzero(gt[:, c]).tolist() for c in
                  range(num_classes)]
    rng = random.Random(seed)
    cur = np.zeros(num_classes, dtype=np.int64)
    chosen = [set() for _ in range(num_classes)]  # selected images of c
    selected = set()
    clipped = []
    it = enumerate(order.tolist())
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=num_classes, desc='drawing classes', leave=False)
    for k, c in it:
        need = int(targets[k] - cur[c])
        if need < 0:
            drop = rng.sample(sorted(chosen[c]), -need)
            for t in drop:
                selected.remove(t)
                cur -= gt[t]
                for lab in np.flatnonzero(gt[t]):
                    chosen[lab].remove(t)
        elif need > 0:
            avail = [i for i in cls_images[c] if i not in chosen[c]]
            if need > len(avail):
                clipped.append(c)
                need = len(avail)
            for t in rng.sample(avail, need):
                selected.add(t)
                cur += gt[t]
                for lab in np.flatnonzero(gt[t]):
                    chosen[lab].add(t)
    by_class = np.zeros(num_classes, dtype=np.int64)
    by_class[order] = targets
    sel = np.array(sorted(selected), dtype=np.int64)
    return dict(
        selected=sel,
        order=order,
        targets_by_class=by_class,
        counts=gt[sel].sum(0) if len(sel) else cur * 0,
        available=gt.sum(0),
        clipped=clipped)


def load_coco(ann_file: str, img_ids: Optional[Sequence] = None,
              progress: bool = True) -> dict:
    if progress:
        print(f'loading {ann_file} ...', file=sys.stderr)
    data = load_annotation_json(ann_file)
    info = multilabel_csr_from_json(data, ann_file, img_ids, drop_empty=True)
    return dict(
        ids=info['img_ids'].tolist(),
        offsets=info['offsets'],
        labels=info['labels'],
        names=list(info['names']),
        cat_ids=info['cat_ids'].tolist())


def load_voc(year_root: str, split: str, img_ids: Optional[Sequence] = None,
             progress: bool = True) -> dict:
    from mmlt.datasets.multilabel import (VOC_CLASSES, load_voc_image_labels,
                                          read_voc_id_list, select_voc_ids)
    ids = read_voc_id_list(
        osp.join(year_root, 'ImageSets', 'Main', f'{split}.txt'))
    if img_ids is not None:
        ids = select_voc_ids(ids, img_ids, 'listed ids',
                             f'the {split} split of {year_root}')
    per_img = load_voc_image_labels(year_root, ids, progress=progress)
    keep = [i for i, lab in enumerate(per_img) if len(lab)]
    ids = [ids[i] for i in keep]
    per_img = [per_img[i] for i in keep]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in per_img], out=offsets[1:])
    labels = np.concatenate(per_img) if per_img else np.zeros(0, np.int64)
    return dict(
        ids=ids,
        offsets=offsets,
        labels=labels.astype(np.int64),
        names=list(VOC_CLASSES),
        cat_ids=list(range(len(VOC_CLASSES))))


def subset_csr(offsets, labels, rows):
    counts = np.diff(offsets)[rows]
    new = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=new[1:])
    parts = [labels[offsets[r]:offsets[r + 1]] for r in rows]
    return new, (np.concatenate(parts) if parts else np.zeros(0, np.int64))


def output_files(ids: Sequence, offsets, labels, names, cat_ids,
                 head_min: int, medium_min: int) -> tuple:
    """(file name -> bytes, statistics) of the three output files."""
    num_classes = len(names)
    info = multilabel_freq_info(offsets, labels, num_classes)
    split = multilabel_split(info['class_freq'], head_min, medium_min)
    idx = split_indices(split)
    files = {
        'img_id.txt':
        ''.join(f'{i}\n' for i in ids).encode(),
        'class_freq.json':
        json.dumps(
            dict(
                class_freq=info['class_freq'].tolist(),
                neg_class_freq=info['neg_class_freq'].tolist(),
                condition_prob=np.round(info['condition_prob'],
                                        6).tolist(),
                num_images=len(ids),
                names=list(names),
                cat_ids=[int(c) for c in cat_ids])).encode(),
        'class_split.json':
        json.dumps({s: idx[s].tolist() for s in SPLITS}).encode(),
    }
    return files, dict(split=split, **info)


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError:
        return None


def changed_outputs(out_dir: str, files: dict) -> list:
    """Names of the files of ``out_dir`` that exist and differ."""
    out = []
    for name, data in files.items():
        path = osp.join(out_dir, name)
        if osp.exists(path) and _read(path) != data:
            out.append(name)
    return out


def write_outputs(out_dir: str, ids: Sequence, offsets, labels, names,
                  cat_ids, head_min: int, medium_min: int,
                  write_ids: bool = True) -> dict:
    """Write img_id.txt (if ``write_ids``), class_freq.json and
    class_split.json; files whose bytes are already there are not
    touched. Returns the statistics."""
    files, info = output_files(ids, offsets, labels, names, cat_ids,
                               head_min, medium_min)
    if not write_ids:
        del files['img_id.txt']
    os.makedirs(out_dir, exist_ok=True)
    with writing(out_dir, 'output folder'):
        for name, data in files.items():
            path = osp.join(out_dir, name)
            if _read(path) != data:
                with open(path, 'wb') as f:
                    f.write(data)
    return info


def format_counts(names, order, targets_by_class, available, counts,
                  split) -> str:
    lines = [f"{'#':>3} {'class':<24}{'available':>10}{'target':>8}"
             f"{'got':>6}  split"]
    for k, c in enumerate(order):
        tgt = '' if targets_by_class is None else int(targets_by_class[c])
        lines.append(f'{k:>3} {names[c][:24]:<24}{int(available[c]):>10}'
                     f'{tgt:>8}{int(counts[c]):>6}  {split[c]}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Draw a long-tailed multi-label subset of COCO or VOC '
        '(Distribution-Balanced loss protocol)')
    parser.add_argument('dataset', choices=['coco', 'voc'])
    parser.add_argument(
        'ann', help='coco: instances_train2017.json (any COCO/LVIS json); '
        'voc: the year folder, e.g. data/VOCdevkit/VOC2012')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--split', default='trainval',
                        help='voc: ImageSets/Main list to draw from')
    parser.add_argument('--max', type=int, default=None,
                        help='images of the first class (coco 1200, voc 800)')
    parser.add_argument('--min', type=int, default=1,
                        help='images of the last class')
    parser.add_argument('--b', type=float, default=6.0,
                        help='Pareto shape')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--img-ids', help='skip the drawing: statistics of this id list '
        '(one id per line, e.g. the original\'s img_id.pkl)')
    parser.add_argument('--head-min', type=int, default=100)
    parser.add_argument('--medium-min', type=int, default=20)
    parser.add_argument(
        '--force', action='store_true',
        help='overwrite output files of --out that differ from what this '
        'run writes (identical files are left as they are without it)')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    progress = not args.no_progress
    try:
        # before the (slow) annotation loading
        check_writable_dir(args.out, 'output folder')
    except OutputPathError as e:
        return cli_error(e, 'create_longtail_dataset.py')
    try:
        given = read_img_id_file(args.img_ids) if args.img_ids else None
        if args.dataset == 'coco':
            full = load_coco(args.ann, given, progress)
        else:
            full = load_voc(args.ann, args.split, given, progress)
    except (AnnotationError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    names = full['names']
    num_classes = len(names)
    out_ids = osp.join(args.out, 'img_id.txt')
    if given is None:
        max_count = args.max or DEFAULT_MAX[args.dataset]
        try:
            targets = pareto_targets(num_classes, max_count, args.min,
                                     args.b)
        except ValueError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
        res = draw_longtail(full['offsets'], full['labels'], num_classes,
                            targets, args.seed, progress)
        rows = res['selected']
        ids = [full['ids'][r] for r in rows]
        offsets, labels = subset_csr(full['offsets'], full['labels'], rows)
        order, by_class, available = (res['order'], res['targets_by_class'],
                                      res['available'])
        for c in res['clipped']:
            print(f'note: class {names[c]!r} has only {available[c]} '
                  f'images, fewer than its target {by_class[c]}',
                  file=sys.stderr)
    else:
        ids, offsets, labels = full['ids'], full['offsets'], full['labels']
        by_class = None
        available = np.bincount(labels, minlength=num_classes)
        order = np.argsort(-available, kind='stable')
    # --img-ids DIR/img_id.txt --out DIR: statistics of that list; the list
    # (which may hold images without labels) is kept as it is
    keep_ids = given is not None and osp.isfile(out_ids) and osp.samefile(
        out_ids, args.img_ids)
    files, _ = output_files(ids, offsets, labels, names, full['cat_ids'],
                            args.head_min, args.medium_min)
    if keep_ids:
        del files['img_id.txt']
    differ = changed_outputs(args.out, files)
    if differ and not args.force:
        print(f'error: {", ".join(osp.join(args.out, n) for n in differ)} '
              'already exist(s) with other content than this run writes '
              '(another seed, --max/--min/--b, annotation file or id list);'
              ' nothing was changed: choose another --out, or pass --force '
              'to overwrite', file=sys.stderr)
        return 2
    try:
        out = write_outputs(
            args.out, ids, offsets, labels, names, full['cat_ids'],
            args.head_min, args.medium_min, write_ids=not keep_ids)
    except OutputPathError as e:
        return cli_error(e, 'create_longtail_dataset.py')
    print(format_counts(names, order, by_class, available, out['class_freq'],
                        out['split']))
    sizes = {s: int((out['split'] == s).sum()) for s in SPLITS}
    cf = out['class_freq']
    print(f'{len(ids)} images, {num_classes} classes, images per class '
          f'{int(cf.max())} max / {int(cf.min())} min; head {sizes["head"]}'
          f' / medium {sizes["medium"]} / tail {sizes["tail"]}')
    print(f'written to {args.out}: img_id.txt, class_freq.json, '
          'class_split.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
