"""MeanScoreTracker: the alpha^n EMA on a hand-made batch, background fixed,
ignored entries, K = 0, checkpoint round trip, 2-rank gloo gather (ranks
with different entries end identical and equal to a replay of the union);
group_mean_scores / sampled_gt_group_ids on hand tables and real mmdet
sampling results."""
import io
import os

import pytest
import torch
import torch.multiprocessing as mp

import mmlt  # noqa: F401
from mmdet.models.task_modules.assigners import AssignResult
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmlt.models.layers.mean_score import (MeanScoreTracker, group_mean_scores,
                                           sampled_gt_group_ids)
from mmlt.testing import free_port

C = 5


def test_init_and_registry():
    t = MODELS.build(dict(type='MeanScoreTracker', num_classes=C))
    assert isinstance(t, MeanScoreTracker)
    assert t.mean_score.dtype == torch.float64
    assert t.mean_score.tolist() == [0.01] * (C + 1)
    t = MeanScoreTracker(C, bg_score=0.05, init_score=0.02)
    assert t.mean_score.tolist() == [0.02] * C + [0.05]


def test_alpha_power_n_rule_hand_batch():
    t = MeanScoreTracker(C, alpha=0.5, bg_score=0.01, init_score=0.01)
    labels = torch.tensor([0, 1, 1, 3, 3, 3, 5, -1, 4, -1])
    scores = torch.tensor(
        [0.8, 0.2, 0.6, 0.1, 0.2, 0.6, 0.9, 0.99,
         float('nan'), 0.5],
        dtype=torch.float64)
    t.update(labels, scores)
    m = t.mean_score
    # class 0: n=1, mean .8: .5 * .01 + .5 * .8
    assert m[0].item() == pytest.approx(0.5 * 0.01 + 0.5 * 0.8, abs=1e-15)
    # class 1: n=2, mean .4: .25 * .01 + .75 * .4
    assert m[1].item() == pytest.approx(0.25 * 0.01 + 0.75 * 0.4, abs=1e-15)
    # class 3: n=3, mean .3: .125 * .01 + .875 * .3
    assert m[3].item() == pytest.approx(0.125 * 0.01 + 0.875 * 0.3, abs=1e-15)
    # class 2 has no entry, class 4 only a NaN one: unchanged (exactly)
    assert m[2].item() == 0.01 and m[4].item() == 0.01
    # background entry (label 5 = C) has no effect, bg stays fixed
    assert m[C].item() == 0.01
    # second update: starts from the new state
    before = m[1].item()
    t.update(torch.tensor([1]), torch.tensor([0.0], dtype=torch.float64))
    assert t.mean_score[1].item() == pytest.approx(0.5 * before, abs=1e-15)


def test_n_equal_entries_equal_n_single_steps():
    a, b = MeanScoreTracker(C), MeanScoreTracker(C)
    a.update(
        torch.tensor([2, 2, 2]), torch.full((3, ), 0.7, dtype=torch.float64))
    for _ in range(3):
        b.update(torch.tensor([2]), torch.tensor([0.7], dtype=torch.float64))
    torch.testing.assert_close(a.mean_score, b.mean_score, rtol=0, atol=1e-15)
    # 0.9^3 * .01 + (1 - 0.9^3) * .7
    assert a.mean_score[2].item() == pytest.approx(
        0.729 * 0.01 + 0.271 * 0.7, abs=1e-15)


def test_empty_update_keeps_state_and_resets_bg():
    t = MeanScoreTracker(C, bg_score=0.03, init_score=0.02)
    t.mean_score[C] = 0.5  # e.g. a stale value
    t.update(torch.zeros(0, dtype=torch.long), torch.zeros(0))
    assert t.mean_score.tolist() == [0.02] * C + [0.03]
    # only ignored entries: same
    t.update(torch.tensor([-1, -1]), torch.tensor([0.3, 0.4]))
    assert t.mean_score.tolist() == [0.02] * C + [0.03]


def test_errors():
    t = MeanScoreTracker(C)
    with pytest.raises(ValueError, match='num_classes'):
        t.update(torch.tensor([C + 1]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match='same'):
        t.update(torch.tensor([0, 1]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match='loss_cls.alpha'):
        MeanScoreTracker(C, alpha=1.0)
    with pytest.raises(ValueError, match='loss_cls.bg_score'):
        MeanScoreTracker(C, bg_score=0.0)
    with pytest.raises(ValueError, match='loss_cls.init_score'):
        MeanScoreTracker(C, init_score=2.0)
    with pytest.raises(ValueError, match='loss_cls.num_classes'):
        MeanScoreTracker(0)


def test_state_dict_round_trip():
    t = MeanScoreTracker(C, alpha=0.8)
    t.update(torch.tensor([0, 3, 3]), torch.tensor([0.6, 0.2, 0.4]))
    sd = t.state_dict()
    assert list(sd) == ['mean_score']
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    fresh = MeanScoreTracker(C, alpha=0.8)
    fresh.load_state_dict(torch.load(buf))
    assert torch.equal(fresh.mean_score, t.mean_score)
    assert fresh.mean_score[0].item() != 0.01


def test_group_weight_stats():
    t = MeanScoreTracker(4)
    t.mean_score[:4] = torch.tensor([0.1, 0.3, 0.5, 0.9], dtype=torch.float64)
    stats = t.group_weight_stats(list('rrcf'))
    assert stats == pytest.approx(
        dict(mean_score_r=0.2, mean_score_c=0.5, mean_score_f=0.9))


# --------------------------------------------------------- entry helpers
def test_group_mean_scores_hand_table():
    prob = torch.tensor([[0.1, 0.6, 0.2, 0.1], [0.2, 0.4, 0.3, 0.1],
                         [0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7],
                         [0.3, 0.3, 0.3, 0.1], [0.1, 0.1, 0.5, 0.3]])
    labels = torch.tensor([1, 1, 0, 3, 0, 2])
    gid = torch.tensor([4, 4, 2, -1, 2, 0])
    lab, score = group_mean_scores(prob, labels, gid)
    # ascending group id: 0 -> class 2, 2 -> class 0, 4 -> class 1
    assert lab.tolist() == [2, 0, 1]
    assert score.dtype == torch.float64
    torch.testing.assert_close(
        score,
        torch.tensor([0.5, (0.7 + 0.3) / 2, (0.6 + 0.4) / 2],
                     dtype=torch.float64),
        atol=1e-7,
        rtol=0)
    # per-class entries: the class id is the group
    keep = torch.tensor([0, 1, 2, 4, 5])
    lab, score = group_mean_scores(prob[keep], labels[keep], labels[keep])
    assert lab.tolist() == [0, 1, 2]
    torch.testing.assert_close(score.float(), torch.tensor([0.5, 0.5, 0.5]))


def test_group_mean_scores_empty_and_errors():
    prob = torch.rand(3, 4)
    lab, score = group_mean_scores(prob, torch.tensor([0, 1, 2]),
                                   torch.full((3, ), -1))
    assert lab.shape == (0, ) and score.shape == (0, )
    with pytest.raises(ValueError, match='different labels'):
        group_mean_scores(prob, torch.tensor([0, 1, 2]),
                          torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match='must lie in'):
        group_mean_scores(prob, torch.tensor([0, 4, 2]),
                          torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='shape'):
        group_mean_scores(prob, torch.tensor([0, 1]), torch.tensor([0, 1]))


def _sampling_result(num_gts, pos_gt, num_neg, gt_labels, seed):
    """A real mmdet SamplingResult with positives assigned to ``pos_gt``."""
    g = torch.Generator().manual_seed(seed)
    n = len(pos_gt) + num_neg
    priors = torch.rand(n, 4, generator=g) * 10
    priors[:, 2:] += priors[:, :2] + 1
    gt_bboxes = torch.rand(num_gts, 4, generator=g) * 10
    gt_bboxes[:, 2:] += gt_bboxes[:, :2] + 1
    gt_inds = torch.zeros(n, dtype=torch.long)
    gt_inds[:len(pos_gt)] = torch.tensor(pos_gt, dtype=torch.long) + 1
    labels = torch.full((n, ), -1, dtype=torch.long)
    labels[:len(pos_gt)] = gt_labels[torch.tensor(pos_gt, dtype=torch.long)]
    assign = AssignResult(num_gts, gt_inds, torch.rand(n, generator=g), labels)
    # pos / neg indices in a shuffled order, as a sampler returns them
    pos_inds = torch.arange(len(pos_gt)).flip(0)
    neg_inds = torch.arange(len(pos_gt), n)
    return SamplingResult(pos_inds, neg_inds, priors, gt_bboxes, assign,
                          torch.zeros(n, dtype=torch.uint8))


def test_sampled_gt_group_ids_real_sampling_results():
    gt_labels0 = torch.tensor([3, 1, 4])
    gt_labels1 = torch.tensor([0, 2])
    res0 = _sampling_result(3, [0, 2, 2, 0, 0], 4, gt_labels0, seed=0)
    res1 = _sampling_result(2, [1, 0], 3, gt_labels1, seed=1)
    gid = sampled_gt_group_ids([res0, res1])
    # image 0: pos_inds flipped -> gts [0, 0, 2, 2, 0]; image 1 offset 3
    assert gid.tolist() == [0, 0, 2, 2, 0, -1, -1, -1, -1, 3, 4, -1, -1, -1]
    assert len(gid) == sum(len(r.priors) for r in (res0, res1))
    # consistent with the labels mmdet's BBoxHead.get_targets builds
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=2,
            fc_out_channels=4,
            roi_feat_size=2,
            num_classes=C))
    from mmengine.config import ConfigDict
    labels = head.get_targets([res0, res1], ConfigDict(pos_weight=-1))[0]
    g = torch.Generator().manual_seed(0)
    prob = torch.softmax(torch.randn(len(gid), C + 1, generator=g), 1)
    lab, score = group_mean_scores(prob, labels, gid)
    assert lab.tolist() == [3, 4, 0, 2]  # GTs 0, 2 of image 0, 0, 1 of 1
    i0 = torch.tensor([0, 1, 4])
    assert score[0].item() == pytest.approx(
        prob[i0, 3].double().mean().item(), abs=1e-12)
    assert sampled_gt_group_ids([]).shape == (0, )


# ------------------------------------------------------------ 2 processes
STEPS = [
    # (rank 0 entries, rank 1 entries): K differs, K = 0 on one or both
    (([0, 1, 1], [0.5, 0.2, 0.4]), ([], [])),
    (([], []), ([2, 0, -1, 4], [0.9, 0.1, 0.7, 0.3])),
    (([], []), ([], [])),
    (([3, 3, C], [0.6, 0.8, 0.9]), ([3, 1], [0.2, 0.05])),
]


def _entries(rank, step):
    lab, score = STEPS[step][rank]
    return (torch.tensor(lab, dtype=torch.long),
            torch.tensor(score, dtype=torch.float32))


def _worker(rank, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        t = MeanScoreTracker(C, alpha=0.9)
        for step in range(len(STEPS)):
            t.update(*_entries(rank, step))
        out[rank] = t.mean_score.clone()
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_identical_and_equal_to_union_replay():
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(free_port(), out), nprocs=2, join=True)
        out = dict(out)
    replay = MeanScoreTracker(C, alpha=0.9)
    for step in range(len(STEPS)):
        (l0, s0), (l1, s1) = _entries(0, step), _entries(1, step)
        replay.update(torch.cat([l0, l1]), torch.cat([s0, s1]))
    assert torch.equal(out[0], out[1])
    torch.testing.assert_close(out[0], replay.mean_score, rtol=0, atol=1e-15)
    # the union, not one rank's entries: class 2 only ever on rank 1
    assert out[0][2].item() == pytest.approx(0.9 * 0.01 + 0.1 * 0.9, abs=1e-7)
    single = MeanScoreTracker(C, alpha=0.9)
    for step in range(len(STEPS)):
        single.update(*_entries(0, step))
    assert not torch.equal(single.mean_score, out[0])
