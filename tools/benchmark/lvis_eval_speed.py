"""Time and peak memory of LVIS evaluation: backend 'fast' (faster-coco-eval)
vs 'lvis' (mmlt's lvis-api wrapper), measured in the same run, plus an
equality check of every summary value and per-class AP.

GT: ``make_lvis_scale_annotations`` (annotation-only LVIS v1 val profile:
1203 classes, neg / not-exhaustive lists, polygons), ``--images`` images.
Detections: ``--dets`` per image (default 300, the LVIS limit): jittered GT
boxes (mostly the right class), boxes on verified and on random classes,
continuous float32 scores; segm detections are RLEs of octagons.

Each (backend, iou type) runs in its own subprocess: the GT and detection
jsons are loaded first (same for both, reported as ``load``), then the
evaluation is timed (``eval``: wall clock; ``cpu``: the process' CPU time,
steadier on a shared machine); ``peak`` is the subprocess' max RSS and
``+peak`` its rise above the RSS after loading.  ``lvis-orig`` (optional)
is the unmodified lvis-api ``LVISEval`` (walks all image x class pairs).
The ratios compare backends measured in the same run (the baseline, the
first backend, runs ``--base-repeat`` times, the others ``--repeat``
times; the fastest run of each counts, the highest peak).

Usage: python tools/benchmark/lvis_eval_speed.py [--images 19809 ...]
    [--dets 300] [--iou-types bbox segm] [--backends lvis fast]
    [--repeat 1] [--base-repeat 1] [--workdir DIR] [--write-doc DOC]

Several ``--images`` values run one after the other in the same run.  With
``--workdir`` the generated GT and detections are kept and reused by later
runs with the same sizes and seed.  ``--write-doc docs/evaluation.md``
stores the table between the ``lvis_eval_speed`` markers of that file.

``--backends lvis-orig fast`` compares with the original lvis-api; it needs
~0.9 GB per 1,000 images above the loaded detections (~25 GB at the default
v1-val scale), so on a small machine use ``--images 5000``.
"""
import argparse
import json
import math
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

TOL = 1e-6


def make_dets(gt, num, seed=0, with_segm=True):
    """``num`` detections per image (vectorised per image): 30 % jittered GT
    boxes (70 % with the GT class, else a verified one), 30 % random boxes
    of verified classes, 40 % random boxes of any class; beta scores
    (higher for the GT-based ones), float32 values; segm: RLEs of
    octagons inscribed in the boxes."""
    import pycocotools.mask as mask_utils
    rng = np.random.default_rng(seed)
    cat_ids = np.array([c['id'] for c in gt['categories']])
    by_img = {}
    for a in gt['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    dets = []
    for img in gt['images']:
        W, H = img['width'], img['height']
        anns = by_img.get(img['id'], [])
        verified = np.array(sorted({a['category_id'] for a in anns}
                                   | set(img['neg_category_ids'])), np.int64)
        kind = rng.random(num)
        # random boxes: log-uniform sides, inside the image
        wh = np.exp(rng.uniform(np.log(4), np.log(min(W, H)), (num, 2)))
        xy = rng.uniform(0, 1, (num, 2)) * ([W, H] - wh)
        boxes = np.concatenate([xy, wh], 1)
        cats = rng.choice(cat_ids, num)
        if verified.size:
            use_verified = kind < 0.6
            cats[use_verified] = rng.choice(verified, int(use_verified.sum()))
        scores = rng.beta(1, 5, num)
        if anns:
            from_gt = np.flatnonzero(kind < 0.3)
            src = rng.integers(len(anns), size=from_gt.size)
            gt_boxes = np.array([anns[i]['bbox'] for i in src],
                                np.float64).reshape(-1, 4)
            jitter = rng.normal(0, 0.12, (from_gt.size, 4)) * np.tile(
                gt_boxes[:, 2:], 2)
            jittered = gt_boxes + jitter
            jittered[:, 2:] = np.maximum(jittered[:, 2:], 1)
            boxes[from_gt] = jittered
            same = rng.random(from_gt.size) < 0.7
            gt_cats = np.array([anns[i]['category_id'] for i in src],
                               np.int64)
            other = rng.choice(verified, from_gt.size)
            cats[from_gt] = np.where(same, gt_cats, other)
            scores[from_gt] = rng.beta(4, 2, from_gt.size)
        boxes = boxes.astype(np.float32).tolist()
        scores = scores.astype(np.float32).tolist()
        rles = [None] * num
        if with_segm:
            polys = []
            for x, y, w, h in boxes:
                cx, cy = w * 0.25, h * 0.25
                polys.append([
                    x + cx, y, x + w - cx, y, x + w, y + cy, x + w, y + h - cy,
                    x + w - cx, y + h, x + cx, y + h, x, y + h - cy, x, y + cy
                ])
            rles = mask_utils.frPyObjects(polys, H, W)
        for b, c, sc, r in zip(boxes, cats.tolist(), scores, rles):
            d = dict(image_id=img['id'], category_id=c, bbox=b, score=sc)
            if r is not None:
                r['counts'] = r['counts'].decode()
                d['segmentation'] = r
            dets.append(d)
    return dets


def _rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def child(args):
    """One evaluation; prints a json line."""
    from lvis import LVIS, LVISEval, LVISResults

    # imported before timing and before the RSS baseline (mmlt pulls in
    # torch/mmdet)
    from mmlt.evaluation.fast_lvis_eval import run_fast_lvis_eval
    from mmlt.evaluation.lvis_eval import per_class_ap, run_lvis_eval
    if args.child.startswith('fast'):
        import faster_coco_eval  # noqa: F401
    t0 = time.perf_counter()
    gt = LVIS(args.gt)
    with open(args.dets_file) as f:
        dets = json.load(f)
    check = 0.0
    if args.child == 'fast-prechecked':
        # as LongTailLVISMetric calls it: detections checked once before
        # (reported as 'check'), not again by the evaluator
        from mmlt.evaluation.lvis_eval import check_lvis_results
        from mmlt.evaluation.validate import CheckedResults
        c0 = time.process_time()
        dets = CheckedResults(check_lvis_results(gt, dets))
        check = time.process_time() - c0
    t1 = time.perf_counter()
    c1 = time.process_time()
    rss_loaded = _rss_mb()
    if args.child == 'lvis-orig':
        np.float = float  # lvis 0.5.3 on numpy >= 1.24
        dt = LVISResults(gt, dets, max_dets=300)
        ev = LVISEval(gt, dt, args.iou_type)
        ev.run()
        stats = {k: float(v) for k, v in ev.get_results().items()}
    else:
        fn = (run_fast_lvis_eval
              if args.child.startswith('fast') else run_lvis_eval)
        stats, ev = fn(gt, dets, args.iou_type, check_gt=False)
    t2 = time.perf_counter()
    c2 = time.process_time()
    aps = per_class_ap(ev)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            dict(load=t1 - t0,
                 eval=t2 - t1,
                 cpu=c2 - c1,
                 check=check,
                 peak=peak,
                 rise=peak - rss_loaded,
                 stats=stats,
                 aps={
                     str(k): v
                     for k, v in aps.items()
                 })))


def run_child(script, backend, gt, dets, iou_type):
    out = subprocess.run([
        sys.executable, script, '--child', backend, '--gt', gt, '--dets-file',
        dets, '--iou-type', iou_type
    ],
                         check=True,
                         capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(a, b):
    """Largest difference over all summary values and per-class APs
    (nan == nan; inf if the key sets or nan patterns differ)."""
    if list(a['stats']) != list(b['stats']) or set(a['aps']) != set(b['aps']):
        return math.inf
    diff = max(abs(a['stats'][k] - b['stats'][k]) for k in a['stats'])
    for k, v in a['aps'].items():
        w = b['aps'][k]
        if math.isnan(v) or math.isnan(w):
            if not (math.isnan(v) and math.isnan(w)):
                return math.inf
        else:
            diff = max(diff, abs(v - w))
    return diff


def prepare_data(work, images, num_dets, seed, with_segm):
    """GT and detection json files for ``images`` (reused when present)."""
    from mmlt.datasets.toy_lvis import make_lvis_scale_annotations
    gt_file = osp.join(work, f'gt_{images}_{seed}.json')
    dets_file = osp.join(work, f'dets_{images}_{num_dets}_{seed}'
                         f'{"_segm" if with_segm else ""}.json')
    t = time.perf_counter()
    if not osp.isfile(gt_file):
        # train_images: keep the full 1203-class v1 profile at any size
        make_lvis_scale_annotations(gt_file,
                                    split='val',
                                    seed=seed,
                                    num_images=images,
                                    train_images=100170,
                                    progress=False)
    with open(gt_file) as f:
        gt = json.load(f)
    if not osp.isfile(dets_file):
        dets = make_dets(gt, num_dets, seed, with_segm=with_segm)
        tmp = dets_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dets, f)
        os.replace(tmp, dets_file)
        num = len(dets)
        del dets
    else:
        num = None
    cats = len(gt['categories'])
    boxes = len(gt['annotations'])
    print(f"GT: {len(gt['images'])} images, {cats} classes, {boxes} boxes; "
          f'{num if num is not None else "(reused)"} detections '
          f'({num_dets}/image); ready in {time.perf_counter() - t:.0f}s',
          flush=True)
    return gt_file, dets_file, dict(images=len(gt['images']), classes=cats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images',
                        type=int,
                        nargs='+',
                        default=[19809],
                        help='val images (LVIS v1 val: 19809); several '
                        'values run one after the other')
    parser.add_argument('--dets',
                        type=int,
                        default=300,
                        help='detections per image')
    parser.add_argument('--iou-types', nargs='+', default=['bbox', 'segm'])
    parser.add_argument('--backends',
                        nargs='+',
                        default=['lvis', 'fast'],
                        help="first one is the baseline; also 'lvis-orig' "
                        "(unmodified lvis-api) and 'fast-prechecked' (fast "
                        'on detections checked before the timer, as '
                        'LongTailLVISMetric calls it)')
    parser.add_argument('--repeat',
                        type=int,
                        default=1,
                        help='runs per backend (fastest shown)')
    parser.add_argument('--base-repeat',
                        type=int,
                        default=None,
                        help='runs of the baseline (default: --repeat)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workdir', default=None)
    parser.add_argument('--write-doc',
                        metavar='DOC',
                        default=None,
                        help='write the table into DOC between the '
                        'lvis_eval_speed markers')
    parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--gt', help=argparse.SUPPRESS)
    parser.add_argument('--dets-file',
                        dest='dets_file',
                        help=argparse.SUPPRESS)
    parser.add_argument('--iou-type', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.write_doc:
        from mmlt.utils.doc_markers import check_section
        check_section(args.write_doc, 'lvis_eval_speed')
    base_repeat = args.base_repeat or args.repeat

    work = args.workdir or tempfile.mkdtemp(prefix='lvis_eval_speed_')
    os.makedirs(work, exist_ok=True)
    script = osp.abspath(__file__)
    base = args.backends[0]
    ok = True
    rows = []
    for images in args.images:
        gt_file, dets_file, info = prepare_data(work, images, args.dets,
                                                args.seed, 'segm'
                                                in args.iou_types)
        for iou in args.iou_types:
            res = {}
            for b in args.backends:
                runs = [
                    run_child(script, b, gt_file, dets_file, iou)
                    for _ in range(base_repeat if b == base else args.
                                   repeat)
                ]
                r = min(runs, key=lambda x: x['eval'])
                r['cpu'] = min(x['cpu'] for x in runs)
                r['peak'] = max(x['peak'] for x in runs)
                r['rise'] = max(x['rise'] for x in runs)
                r['runs'] = len(runs)
                res[b] = r
            print(f'\n[{images} {iou}] {"backend":15s} {"load s":>7s} '
                  f'{"eval s":>8s} {"speedup":>8s} {"cpu s":>7s} '
                  f'{"cpu x":>6s} {"peak MB":>8s} {"+peak MB":>9s} '
                  f'{"max |diff| vs " + base:>20s}')
            for b, r in res.items():
                diff = compare(r, res[base])
                ok &= diff <= TOL
                r['diff'] = diff
                print(f'[{images} {iou}] {b:15s} {r["load"]:7.1f} '
                      f'{r["eval"]:8.2f} '
                      f'{res[base]["eval"] / r["eval"]:7.1f}x '
                      f'{r["cpu"]:7.2f} {res[base]["cpu"] / r["cpu"]:5.1f}x '
                      f'{r["peak"]:8.0f} {r["rise"]:9.0f} {diff:20.2e}')
            print(f'[{images} {iou}] {base} '
                  f'AP={res[base]["stats"]["AP"]:.4f} '
                  f'APr={res[base]["stats"]["APr"]:.4f} '
                  f'APc={res[base]["stats"]["APc"]:.4f} '
                  f'APf={res[base]["stats"]["APf"]:.4f}', flush=True)
            rows.append((info, iou, res))
    print('\nall fields equal (1e-6):', ok)
    if args.write_doc:
        write_doc(args, rows, base, ok)
    return 0 if ok else 1


def write_doc(args, rows, base, ok):
    from mmlt.utils.doc_markers import write_section
    others = [b for b in args.backends if b != base]
    head = ['val images', 'iou']
    head += [f'{base} eval s (cpu s)']
    for b in others:
        head += [f'{b} eval s (cpu s)', f'{b} speed-up wall (cpu)']
    head += ['peak RSS MB ' + ' / '.join(args.backends), 'max diff']
    lines = [
        f'`python tools/benchmark/lvis_eval_speed.py --images '
        f'{" ".join(map(str, args.images))} --dets {args.dets} '
        f'--iou-types {" ".join(args.iou_types)} --backends '
        f'{" ".join(args.backends)} --repeat {args.repeat} --base-repeat '
        f'{args.base_repeat or args.repeat}` ({os.cpu_count()} CPUs, '
        f'shared; {args.dets} detections per image, 1203 classes; fastest '
        f'of the runs; every summary value and per-class AP equal to '
        f'{TOL:g}: {ok})', '', '| ' + ' | '.join(head) + ' |',
        '|' + '---|' * len(head)
    ]
    for info, iou, res in rows:
        r0 = res[base]
        cells = [f'{info["images"]:,}', iou,
                 f'{r0["eval"]:.1f} ({r0["cpu"]:.1f})']
        for b in others:
            r = res[b]
            cells += [
                f'{r["eval"]:.2f} ({r["cpu"]:.2f})',
                f'{r0["eval"] / r["eval"]:.1f}x '
                f'({r0["cpu"] / r["cpu"]:.1f}x)'
            ]
        cells += [
            ' / '.join(f'{res[b]["peak"]:.0f}' for b in args.backends),
            f'{max(res[b]["diff"] for b in others):.1e}' if others else '-'
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    write_section(args.write_doc, 'lvis_eval_speed', '\n'.join(lines))
    print(f'table written to {args.write_doc}')


if __name__ == '__main__':
    sys.exit(main())
