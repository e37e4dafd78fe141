"""MemoryEfficientSimOTAAssigner equals mmdet's SimOTAAssigner."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mmdet.models.task_modules.assigners import SimOTAAssigner
from mmlt.models.task_modules import (MemoryEfficientSimOTAAssigner,
                                      simota_class_cost)


def _problem(seed, num_priors=400, num_gt=12, num_classes=50, size=160.):
    g = torch.Generator().manual_seed(seed)
    side = int(num_priors**0.5)
    ys, xs = torch.meshgrid(
        torch.arange(side), torch.arange(side), indexing='ij')
    stride = size / side
    priors = torch.stack([
        xs.flatten() * stride, ys.flatten() * stride,
        torch.full((side * side, ), stride),
        torch.full((side * side, ), stride)
    ], 1)
    xy = torch.rand(num_gt, 2, generator=g) * size * 0.7
    wh = torch.rand(num_gt, 2, generator=g) * size * 0.3 + 8
    gt = torch.cat([xy, xy + wh], 1)
    # predictions near priors, scores in (0, 1) with some exactly 0 / 1
    centre = priors[:, :2]
    half = torch.rand(len(priors), 2, generator=g) * 20 + 4
    boxes = torch.cat([centre - half, centre + half], 1)
    scores = torch.rand(len(priors), num_classes, generator=g)
    scores[0, :5] = 0.
    scores[1, :5] = 1.
    pred = InstanceData(bboxes=boxes, scores=scores, priors=priors)
    labels = torch.randint(0, num_classes, (num_gt, ), generator=g)
    labels[:3] = torch.tensor([0, 1, 2])
    return pred, InstanceData(bboxes=gt, labels=labels)


def test_class_cost_is_summed_bce():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(30, 7, generator=g)
    p[0, 0], p[1, 1], p[2, 3] = 0., 1., 1.  # the -100 clamps
    labels = torch.tensor([0, 1, 3, 3, 6])
    # the definition, written out as mmdet does
    onehot = F.one_hot(labels, 7).float()[None].expand(30, -1, -1)
    expected = F.binary_cross_entropy(
        p[:, None].expand(-1, 5, -1), onehot, reduction='none').sum(-1)
    torch.testing.assert_close(
        simota_class_cost(p, labels), expected, rtol=1e-5, atol=1e-4)
    # by hand: p = [0.5, 0.25], label 1 -> -log(1 - .5) - log(.25)
    cost = simota_class_cost(torch.tensor([[0.5, 0.25]]), torch.tensor([1]))
    assert cost.item() == pytest.approx(-math.log(.5) - math.log(.25))


@pytest.mark.parametrize('seed', range(5))
def test_same_assignment_as_mmdet(seed):
    pred, gt = _problem(seed)
    ref = SimOTAAssigner(center_radius=2.5).assign(pred, gt)
    ours = MemoryEfficientSimOTAAssigner(center_radius=2.5).assign(pred, gt)
    assert ref.num_gts == ours.num_gts
    assert torch.equal(ref.gt_inds, ours.gt_inds)
    assert torch.equal(ref.labels, ours.labels)
    torch.testing.assert_close(ref.max_overlaps, ours.max_overlaps)
    assert (ours.gt_inds > 0).sum() >= len(gt)  # non-trivial problem


def test_empty_cases_match_mmdet():
    pred, gt = _problem(0)
    no_gt = InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    far = InstanceData(
        bboxes=torch.tensor([[1e4, 1e4, 1e4 + 5, 1e4 + 5]]),
        labels=torch.tensor([0]))
    for g in (no_gt, far):
        ref = SimOTAAssigner().assign(pred, g)
        ours = MemoryEfficientSimOTAAssigner().assign(pred, g)
        assert torch.equal(ref.gt_inds, ours.gt_inds)
        assert torch.equal(ref.labels, ours.labels)
        assert torch.equal(ref.max_overlaps, ours.max_overlaps)


def test_registered_for_configs():
    from mmdet.registry import TASK_UTILS
    assigner = TASK_UTILS.build(
        dict(type='MemoryEfficientSimOTAAssigner', center_radius=2.5))
    assert isinstance(assigner, MemoryEfficientSimOTAAssigner)
    assert assigner.center_radius == 2.5


def test_yolox_configs_use_it():
    from mmengine.config import Config
    import glob
    paths = sorted(glob.glob('configs/efl/yolox_*.py'))
    assert len(paths) == 4
    for path in paths:
        cfg = Config.fromfile(path)
        assigner = cfg.model.train_cfg.assigner
        assert assigner.type == 'MemoryEfficientSimOTAAssigner', path
        assert assigner.center_radius == 2.5


def test_benchmark_runs_both_assigners(tmp_path):
    """tools/benchmark/simota_memory.py times the registered assigners and
    writes its table between the doc's markers."""
    import subprocess
    import sys
    doc = tmp_path / 'doc.md'
    doc.write_text('x\n<!-- simota_memory:begin -->\n'
                   '<!-- simota_memory:end -->\ny\n')
    out = subprocess.run([
        sys.executable, 'tools/benchmark/simota_memory.py', '--gts', '4',
        '--classes', '30', '--size', '128', '--repeats', '1', '--write-doc',
        str(doc)
    ], capture_output=True, text=True, check=True).stdout
    row = [line for line in out.splitlines() if line.startswith('| 4 |')]
    assert len(row) == 1 and row[0].endswith('| yes |'), out
    text = doc.read_text()
    assert row[0] in text and text.startswith('x\n') and text.endswith('y\n')
