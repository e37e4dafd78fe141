"""YOLOX's SimOTA assignment at LVIS scale: mmdet's ``SimOTAAssigner``
against mmlt's ``MemoryEfficientSimOTAAssigner`` (same assignment).

One image of a YOLOX step at 640 x 640 (8,400 priors at strides 8/16/32),
1,203 classes, ``--gts`` ground-truth boxes (log-uniform sizes, as a
crowded LVIS mosaic). Each assigner runs in a fresh subprocess so that its
peak memory is its own: on CPU the growth of peak RSS over the inputs (Linux: the
peak is reset after the inputs are built), on
CUDA ``torch.cuda.max_memory_allocated`` over the inputs. Prints, per GT
count, the peak extra memory and the median time of both, their ratios
against mmdet (the baseline of the same run), and whether the assignments
are identical.

Usage: python tools/benchmark/simota_memory.py [--gts 20 60]
       [--classes 1203] [--size 640] [--repeats 3] [--device cpu|cuda]
       [--write-doc docs/efl.md]
(mmdet at 60 GTs needs ~8 GB on CPU; lower ``--gts`` on small machines.)
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def yolox_problem(num_gt, num_classes, size, device, seed=0):
    import torch
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    priors = []
    for stride in (8, 16, 32):
        n = size // stride
        ys, xs = torch.meshgrid(
            torch.arange(n), torch.arange(n), indexing='ij')
        p = torch.stack([xs.flatten() * stride, ys.flatten() * stride], 1)
        priors.append(
            torch.cat([p.float(),
                       torch.full((n * n, 2), float(stride))], 1))
    priors = torch.cat(priors)
    wh = torch.exp(
        torch.empty(num_gt, 2).uniform_(2.3, 6.0, generator=g))  # 10-400
    xy = torch.rand(num_gt, 2, generator=g) * (size - wh)
    gt = torch.cat([xy, xy + wh], 1)
    half = torch.exp(torch.empty(len(priors), 2).uniform_(1.5, 5., generator=g))
    boxes = torch.cat([priors[:, :2] - half, priors[:, :2] + half], 1)
    logits = torch.randn(len(priors), num_classes, generator=g) - 4
    scores = logits.sigmoid().sqrt()  # YOLOX: sqrt(cls * obj)
    labels = torch.randint(0, num_classes, (num_gt, ), generator=g)
    pred = InstanceData(bboxes=boxes, scores=scores, priors=priors)
    return pred.to(device), InstanceData(bboxes=gt, labels=labels).to(device)


def _status(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f'no {key} in /proc/self/status')


def reset_peak_rss():
    """Current RSS, with the kernel's peak (VmHWM) reset to it."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return _status('VmRSS')


def child(args):
    import torch
    import mmlt  # noqa: F401
    from mmdet.registry import TASK_UTILS
    torch.set_num_threads(args.threads)
    pred, gt = yolox_problem(args.gts[0], args.classes, args.size,
                             args.device)
    assigner = TASK_UTILS.build(dict(type=args.child, center_radius=2.5))
    cuda = args.device == 'cuda'
    if cuda:
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        base = reset_peak_rss()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        with torch.no_grad():
            res = assigner.assign(pred, gt)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated() if cuda else _status('VmHWM')
    print(json.dumps(dict(
        extra_bytes=max(peak - base, 0),
        seconds=statistics.median(times),
        gt_inds=res.gt_inds.cpu().tolist(),
        positives=int((res.gt_inds > 0).sum()))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--gts', type=int, nargs='+', default=[20, 60])
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--size', type=int, default=640)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--write-doc', metavar='DOC',
                        help='put the table between <!-- simota_memory:begin'
                        ' --> / end markers of DOC (docs/efl.md)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.write_doc:
        from mmlt.utils.doc_markers import check_section
        check_section(args.write_doc, 'simota_memory')
    gb = 1024.**3
    import platform
    lines = [
        f'SimOTA at {args.size} px ({sum((args.size // s)**2 for s in (8, 16, 32))}'
        f' priors), {args.classes} classes, {args.device} '
        f'({platform.machine()}, {args.threads} thread(s)), median of '
        f'{args.repeats}; memory: peak extra over the inputs', '',
        '| GTs | mmdet GB | mmlt GB | memory ratio | mmdet s | mmlt s | '
        'speed-up | positives | same assignment |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    print(lines[0])
    for num_gt in args.gts:
        out = {}
        for name in ('SimOTAAssigner', 'MemoryEfficientSimOTAAssigner'):
            cmd = [sys.executable, __file__, '--child', name, '--gts',
                   str(num_gt), '--classes', str(args.classes), '--size',
                   str(args.size), '--repeats', str(args.repeats),
                   '--threads', str(args.threads), '--device', args.device]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  cwd=ROOT)
            if proc.returncode:
                sys.exit(f'{name} with {num_gt} GTs failed '
                         f'(rc {proc.returncode}):\n{proc.stderr[-2000:]}')
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        ref, ours = out['SimOTAAssigner'], out['MemoryEfficientSimOTAAssigner']
        row = (f'| {num_gt} | {ref["extra_bytes"] / gb:.2f} | '
               f'{ours["extra_bytes"] / gb:.3f} | '
               f'{ref["extra_bytes"] / max(ours["extra_bytes"], 1):.0f}x | '
               f'{ref["seconds"]:.2f} | {ours["seconds"]:.3f} | '
               f'{ref["seconds"] / ours["seconds"]:.1f}x | '
               f'{ours["positives"]} | '
               f'{"yes" if ref["gt_inds"] == ours["gt_inds"] else "NO"} |')
        print(row, flush=True)
        lines.append(row)
        if ref['gt_inds'] != ours['gt_inds']:
            print(f'WARNING: assignments differ at {num_gt} GTs',
                  file=sys.stderr)
    if args.write_doc:
        from mmlt.utils.doc_markers import write_section
        write_section(args.write_doc, 'simota_memory', '\n'.join(lines))
        print(f'wrote {args.write_doc}')

if __name__ == '__main__':
    main()
