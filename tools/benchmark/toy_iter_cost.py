#!/usr/bin/env python
"""Whole training-iteration cost of toy configs relative to the CE config.

Builds each config's detector, feeds all of them the same synthetic batch
(toy-sized images with boxes and polygon masks) and times forward + backward
+ SGD step. Iterations of the models are interleaved (round robin), so
machine noise hits every config alike; the ratio of medians against the
first config (the baseline) is printed. Usage::

    python tools/benchmark/toy_iter_cost.py [--iters 20] [CONFIG ...]
"""
import argparse
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmlt  # noqa: F401
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import PolygonMasks

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT = [
    'configs/toy/mask-rcnn_r18_fpn_toy_ce.py',
    'configs/toy/mask-rcnn_r18_fpn_toy_eqlv2.py',
    'configs/toy/mask-rcnn_r18_fpn_toy_eql.py',
]


def synthetic_batch(num_classes, batch=2, size=160, objects=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 255, (3, size, size), generator=g,
                                    dtype=torch.uint8))
        xy = torch.rand(objects, 2, generator=g) * (size - 60)
        wh = torch.rand(objects, 2, generator=g) * 50 + 10
        boxes = torch.cat([xy, xy + wh], 1)
        polys = [[np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64)]
                 for x1, y1, x2, y2 in boxes.tolist()]
        ds = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), scale_factor=(1., 1.),
            batch_input_shape=(size, size)))
        ds.gt_instances = InstanceData(
            bboxes=boxes,
            labels=torch.randint(0, num_classes, (objects, ), generator=g),
            masks=PolygonMasks(polys, size, size))
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def build(path):
    cfg = Config.fromfile(osp.join(ROOT, path) if not osp.isabs(path)
                          else path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return cfg, model, opt


def one_iter(model, opt, batch):
    t = time.perf_counter()
    data = model.data_preprocessor(batch, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', default=DEFAULT)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args()
    init_default_scope('mmdet')
    runs = [(p, ) + build(p) for p in args.configs]
    batch = synthetic_batch(runs[0][1].num_classes)
    times = {p: [] for p, *_ in runs}
    for it in range(args.warmup + args.iters):
        for path, _, model, opt in runs:
            dt = one_iter(model, opt, batch)
            if it >= args.warmup:
                times[path].append(dt)
    base = float(np.median(times[runs[0][0]]))
    print(f'{args.iters} interleaved iterations, torch threads = '
          f'{torch.get_num_threads()}, batch 2 x 160 px')
    for path, *_ in runs:
        med = float(np.median(times[path]))
        print(f'{osp.basename(path):45s} {1000 * med:8.1f} ms/iter  '
              f'{med / base:5.3f}x')


if __name__ == '__main__':
    main()
