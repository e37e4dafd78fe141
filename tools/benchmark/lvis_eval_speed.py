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
evaluation is timed (``eval``); ``peak`` is the subprocess' max RSS and
``+peak`` its rise above the RSS after loading.  ``lvis-orig`` (optional)
is the unmodified lvis-api ``LVISEval`` (walks all image x class pairs).

Usage: python tools/benchmark/lvis_eval_speed.py [--images 19809] [--dets 300]
    [--iou-types bbox segm] [--backends lvis fast] [--repeat 1]

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
    if args.child == 'fast':
        import faster_coco_eval  # noqa: F401
    t0 = time.perf_counter()
    gt = LVIS(args.gt)
    with open(args.dets_file) as f:
        dets = json.load(f)
    t1 = time.perf_counter()
    rss_loaded = _rss_mb()
    if args.child == 'lvis-orig':
        np.float = float  # lvis 0.5.3 on numpy >= 1.24
        dt = LVISResults(gt, dets, max_dets=300)
        ev = LVISEval(gt, dt, args.iou_type)
        ev.run()
        stats = {k: float(v) for k, v in ev.get_results().items()}
    else:
        fn = run_fast_lvis_eval if args.child == 'fast' else run_lvis_eval
        stats, ev = fn(gt, dets, args.iou_type, check_gt=False)
    t2 = time.perf_counter()
    aps = per_class_ap(ev)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            dict(load=t1 - t0,
                 eval=t2 - t1,
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images',
                        type=int,
                        default=19809,
                        help='val images (LVIS v1 val: 19809)')
    parser.add_argument('--dets',
                        type=int,
                        default=300,
                        help='detections per image')
    parser.add_argument('--iou-types', nargs='+', default=['bbox', 'segm'])
    parser.add_argument('--backends',
                        nargs='+',
                        default=['lvis', 'fast'],
                        help="first one is the baseline; also 'lvis-orig'")
    parser.add_argument('--repeat',
                        type=int,
                        default=1,
                        help='runs per backend (best eval time shown)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workdir', default=None)
    parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--gt', help=argparse.SUPPRESS)
    parser.add_argument('--dets-file',
                        dest='dets_file',
                        help=argparse.SUPPRESS)
    parser.add_argument('--iou-type', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    from mmlt.datasets.toy_lvis import make_lvis_scale_annotations
    work = args.workdir or tempfile.mkdtemp(prefix='lvis_eval_speed_')
    os.makedirs(work, exist_ok=True)
    gt_file = osp.join(work, f'gt_{args.images}_{args.seed}.json')
    t = time.perf_counter()
    # train_images: keep the full 1203-class v1 profile at any --images
    info = make_lvis_scale_annotations(gt_file,
                                       split='val',
                                       seed=args.seed,
                                       num_images=args.images,
                                       train_images=100170,
                                       progress=False,
                                       return_info=True)
    with open(gt_file) as f:
        gt = json.load(f)
    dets = make_dets(gt,
                     args.dets,
                     args.seed,
                     with_segm='segm' in args.iou_types)
    dets_file = osp.join(work, 'dets.json')
    with open(dets_file, 'w') as f:
        json.dump(dets, f)
    print(f"GT: {info['images']} images, {info['num_classes']} classes, "
          f"{info['instances']} boxes; {len(dets)} detections "
          f'({args.dets}/image); generated in {time.perf_counter() - t:.0f}s')
    del gt, dets

    script = osp.abspath(__file__)
    base = args.backends[0]
    ok = True
    for iou in args.iou_types:
        res = {}
        for b in args.backends:
            runs = [
                run_child(script, b, gt_file, dets_file, iou)
                for _ in range(args.repeat)
            ]
            r = min(runs, key=lambda x: x['eval'])
            r['peak'] = max(x['peak'] for x in runs)
            r['rise'] = max(x['rise'] for x in runs)
            res[b] = r
        print(f'\n[{iou}] {"backend":10s} {"load s":>7s} {"eval s":>8s} '
              f'{"speedup":>8s} {"peak MB":>8s} {"+peak MB":>9s} '
              f'{"max |diff| vs " + base:>20s}')
        for b, r in res.items():
            diff = compare(r, res[base])
            ok &= diff <= TOL
            print(f'[{iou}] {b:10s} {r["load"]:7.1f} {r["eval"]:8.2f} '
                  f'{res[base]["eval"] / r["eval"]:7.1f}x {r["peak"]:8.0f} '
                  f'{r["rise"]:9.0f} {diff:20.2e}')
        print(f'[{iou}] {base} AP={res[base]["stats"]["AP"]:.4f} '
              f'APr={res[base]["stats"]["APr"]:.4f} '
              f'APc={res[base]["stats"]["APc"]:.4f} '
              f'APf={res[base]["stats"]["APf"]:.4f}')
    print('\nall fields equal (1e-6):', ok)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
