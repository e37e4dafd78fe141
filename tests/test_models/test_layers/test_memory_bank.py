"""LOCE's memory-augmented feature sampling: GT box jitter (all 16 sign
patterns, offsets <= w/6, h/6, clamped to the image), the per-class ring
buffers (exact contents after overflow / wrap, Q per class per batch), the
1/m class sampler (exact probabilities, chi-square over many draws, empty
queues never drawn), lazy allocation, dtypes and bytes at LVIS settings."""
import pytest
import torch
from mmengine.structures import InstanceData

import mmlt  # noqa: F401
from mmdet.registry import MODELS, TASK_UTILS
from mmlt.models.layers import (FeatureMemoryBank, generate_memory_items,
                                jitter_boxes)
from mmlt.models.layers.memory_bank import jitter_signs

# --------------------------------------------------------------- jitter


def test_jitter_signs_all_16_patterns():
    m = jitter_signs(16)
    assert m.shape == (16, 4)
    assert set(m.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(r) for r in m.tolist()}) == 16
    # binary order, x1 most significant (the original's matrix)
    assert m[0].tolist() == [-1, -1, -1, -1]
    assert m[1].tolist() == [-1, -1, -1, 1]
    assert m[8].tolist() == [1, -1, -1, -1]
    assert m[15].tolist() == [1, 1, 1, 1]
    # num > 16 cycles through the patterns
    assert torch.equal(jitter_signs(32), torch.cat([m, m]))


def test_jitter_offsets_formula_and_bounds():
    gt = torch.tensor([[100., 50., 160., 80.], [20., 30., 44., 90.]])
    out = jitter_boxes(gt, (400, 600),
                       generator=torch.Generator().manual_seed(0))
    assert out.shape == (32, 4)
    # same U as the function draws: offsets = 1/6 * M * U * [w, h, w, h]
    u = torch.rand((2, 16, 4), generator=torch.Generator().manual_seed(0))
    wh = torch.tensor([[60., 30., 60., 30.], [24., 60., 24., 60.]])
    expected = gt[:, None] + jitter_signs(16)[None] * u * wh[:, None] / 6
    assert torch.allclose(out, expected.reshape(32, 4))
    off = (out.reshape(2, 16, 4) - gt[:, None]).abs()
    assert (off <= wh[:, None] / 6 + 1e-5).all()
    # every offset points the way its sign says
    signed = (out.reshape(2, 16, 4) - gt[:, None]) * jitter_signs(16)
    assert (signed >= 0).all()
    # each GT's 16 boxes are distinct and stay valid
    assert (out[:, 2] > out[:, 0]).all() and (out[:, 3] > out[:, 1]).all()


def test_jitter_clamped_to_image():
    # a box filling a 30 x 60 image: every outward move is clamped
    gt = torch.tensor([[0., 0., 60., 30.]])
    out = jitter_boxes(gt, (30, 60),
                       generator=torch.Generator().manual_seed(1))
    assert out[:, [0, 2]].min() >= 0 and out[:, [0, 2]].max() <= 60
    assert out[:, [1, 3]].min() >= 0 and out[:, [1, 3]].max() <= 30
    m = jitter_signs(16)
    assert (out[m[:, 0] < 0, 0] == 0).all()  # x1 moved left -> 0
    assert (out[m[:, 2] > 0, 2] == 60).all()  # x2 moved right -> w
    assert (out[m[:, 1] < 0, 1] == 0).all()
    assert (out[m[:, 3] > 0, 3] == 30).all()


def test_jitter_degenerate_boxes_get_min_size():
    gt = torch.tensor([
        [10., 10., 10., 20.],  # zero width
        [100., 0., 120., 10.]
    ])  # right of a 50 px image
    out = jitter_boxes(gt, (50, 50),
                       generator=torch.Generator().manual_seed(2))
    w = out[:, 2] - out[:, 0]
    h = out[:, 3] - out[:, 1]
    assert (w >= 1 - 1e-6).all() and (h > 0).all()
    assert torch.allclose(w[:16], torch.ones(16))
    # the outside box is pushed to the last pixel column: [49, 50]
    assert torch.equal(out[16:, 0], torch.full((16, ), 49.))
    assert torch.equal(out[16:, 2], torch.full((16, ), 50.))
    assert (out[:, [0, 2]] <= 50).all()


def test_jitter_empty_and_bad_input():
    assert jitter_boxes(torch.zeros(0, 4), (10, 10)).shape == (0, 4)
    with pytest.raises(ValueError, match='gt_boxes'):
        jitter_boxes(torch.zeros(3, 5), (10, 10))


# ------------------------------------------------------- ring buffers


def _items(ids, labels, width=2):
    """feats[i] = [id, -id, ...], targets[i] = id + [0, .1, .2, .3]."""
    ids = torch.tensor(ids, dtype=torch.float32)
    feats = ids[:, None] * torch.tensor([1., -1.] * (width // 2))
    targets = ids[:, None] + torch.tensor([0., .1, .2, .3])
    return feats, torch.tensor(labels), targets


def _queue_ids(bank, c):
    return bank.feats[c, :int(bank.count[c]), 0].tolist()


def test_ring_buffer_overflow_and_wrap_exact():
    bank = FeatureMemoryBank(3,
                             queue_size=4,
                             feat_shape=(2, ),
                             dtype='float32')
    assert bank.enqueue(*_items([1, 2, 3], [0, 0, 1])) == 3
    assert _queue_ids(bank, 0) == [1, 2]
    assert bank.ptr.tolist() == [2, 1, 0]
    assert bank.count.tolist() == [2, 1, 0]

    assert bank.enqueue(*_items([4, 5, 6, 7], [0, 0, 0, 2])) == 4
    # class 0: 4, 5 fill slots 2, 3; 6 wraps onto slot 0 (oldest, id 1)
    assert bank.feats[0, :, 0].tolist() == [6, 2, 4, 5]
    assert bank.ptr.tolist() == [1, 1, 1]
    assert bank.count.tolist() == [4, 1, 1]

    # class 0 gets 5 items: only the first Q = 4 (8, 10, 11, 12) are kept,
    # written at slots 1, 2, 3, 0
    assert bank.enqueue(
        *_items([8, 9, 10, 11, 12, 13], [0, 1, 0, 0, 0, 0])) == 5
    assert bank.feats[0, :, 0].tolist() == [12, 8, 10, 11]
    assert bank.feats[0, :, 1].tolist() == [-12, -8, -10, -11]
    assert _queue_ids(bank, 1) == [3, 9]
    assert _queue_ids(bank, 2) == [7]
    assert bank.ptr.tolist() == [1, 2, 1]
    assert bank.count.tolist() == [4, 2, 1]
    assert torch.allclose(
        bank.targets[0],
        torch.tensor([12., 8., 10., 11.])[:, None] +
        torch.tensor([0., .1, .2, .3]))
    s = bank.summary()
    assert (s['filled_classes'], s['full_classes'], s['stored']) == (3, 1, 7)


def test_per_class_cap_of_q_per_batch():
    bank = FeatureMemoryBank(2,
                             queue_size=2,
                             feat_shape=(2, ),
                             dtype='float32')
    assert bank.enqueue(*_items([1, 2, 3, 4, 5], [1, 1, 1, 1, 1])) == 2
    assert _queue_ids(bank, 1) == [1, 2]
    assert bank.ptr.tolist() == [0, 0] and bank.count.tolist() == [0, 2]


def test_enqueue_leaves_inputs_alone_and_casts_once():
    bank = FeatureMemoryBank(2, queue_size=3, feat_shape=(2, ))
    feats, labels, targets = _items([1, 2], [1, 0])
    before = feats.clone()
    bank.enqueue(feats, labels, targets)
    assert torch.equal(feats, before)
    assert bank.feats.dtype == torch.float16
    assert _queue_ids(bank, 0) == [2] and _queue_ids(bank, 1) == [1]


def test_fp16_clamps_out_of_range_instead_of_inf():
    bank = FeatureMemoryBank(1, queue_size=2, feat_shape=(2, ))
    bank.enqueue(torch.tensor([[1e6, -1e6]]), torch.tensor([0]),
                 torch.zeros(1, 4))
    assert bank.feats[0, 0].tolist() == [65504., -65504.]
    # fp16 input on the bank's device: no cast copy, still not modified
    x = torch.tensor([[70000., 1.]]).half()
    bank.enqueue(x, torch.tensor([0]), torch.zeros(1, 4))
    assert x[0, 0] == float('inf') and bank.feats[0, 1, 0] == 65504.


@pytest.mark.parametrize('dtype,torch_dtype',
                         [('float16', torch.float16),
                          ('bfloat16', torch.bfloat16),
                          ('float32', torch.float32),
                          (torch.bfloat16, torch.bfloat16)])
def test_dtype_options(dtype, torch_dtype):
    bank = FeatureMemoryBank(2, queue_size=2, feat_shape=(3, 2), dtype=dtype)
    x = torch.tensor([[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]])
    bank.enqueue(x, torch.tensor([1]), torch.zeros(1, 4))
    assert bank.feats.dtype == torch_dtype
    feats, labels, targets = bank.sample(torch.full((3, ), 0.5))
    assert feats.dtype == torch.float32 and feats.shape == (32, 3, 2)
    assert targets.dtype == torch.float32 and labels.dtype == torch.long
    # the only stored item, rounded to the storage dtype
    assert torch.equal(feats[0], x[0].to(torch_dtype).float())
    tol = {torch.float16: 2**-11, torch.bfloat16: 2**-8}.get(torch_dtype, 0)
    assert torch.allclose(feats[0], x[0], rtol=tol, atol=0)
    half, _, _ = bank.sample(torch.full((3, ), 0.5), dtype=torch.float16)
    assert half.dtype == torch.float16


def test_lazy_allocation_and_state_not_saved():
    bank = MODELS.build(dict(type='FeatureMemoryBank', num_classes=1203))
    assert not bank.is_allocated and bank.feats is None
    # nothing big anywhere in the module before the first enqueue
    small = [v for v in vars(bank).values() if isinstance(v, torch.Tensor)]
    assert sum(t.numel() for t in small) == 2 * 1203
    assert bank.state_dict() == {} and list(bank.buffers()) == []
    assert bank.summary()['bytes_allocated'] == 0

    bank = FeatureMemoryBank(3, queue_size=2, feat_shape=(2, ))
    bank.enqueue(*_items([1], [2]))
    assert bank.is_allocated and bank.storage_device == torch.device('cpu')
    assert bank.summary()['bytes_allocated'] == bank.nbytes()
    # not checkpointed: refilled by the init hook instead
    assert bank.state_dict() == {}
    fresh = FeatureMemoryBank(3, queue_size=2, feat_shape=(2, ))
    fresh.load_state_dict(bank.state_dict())
    assert fresh.count.sum() == 0 and fresh.feats is None
    # module casts / moves leave the bank alone
    bank.double()
    assert bank.feats.dtype == torch.float16

    bank.reset()
    assert bank.count.sum() == 0 and bank.ptr.sum() == 0 and bank.is_allocated
    assert bank.sample(torch.ones(4))[0].shape == (0, 2)
    bank.reset(free=True)
    assert not bank.is_allocated


def test_auto_device_follows_features():
    bank = FeatureMemoryBank(2, queue_size=2, feat_shape=(2, ), device='auto')
    bank.enqueue(*_items([1], [0]))
    assert bank.storage_device == torch.device('cpu')


def test_bytes_at_lvis_settings_computed_not_allocated():
    est = FeatureMemoryBank.estimate_nbytes(1203, 80, (256, 7, 7), 'float16')
    assert est['feats'] == 1203 * 80 * 256 * 7 * 7 * 2 == 2_414_469_120
    assert est['targets'] == 1203 * 80 * 4 * 4
    assert est['total'] == 2_414_469_120 + 1_539_840 + 2 * 1203 * 8
    assert est['total'] / 2**30 < 2.4  # 2.25 GiB
    fp32 = FeatureMemoryBank.estimate_nbytes(1203, 80, (256, 7, 7), 'float32')
    assert fp32['feats'] == 2 * est['feats']  # the original: 4.83e9 B
    bf16 = FeatureMemoryBank.estimate_nbytes(1203, 80, (256, 7, 7), 'bfloat16')
    assert bf16 == est
    bank = FeatureMemoryBank(1203)
    assert bank.nbytes() == est['total'] and not bank.is_allocated


def test_bad_config_errors_name_the_key():
    with pytest.raises(ValueError, match='dtype'):
        FeatureMemoryBank(3, dtype='float8')
    with pytest.raises(ValueError, match='device'):
        FeatureMemoryBank(3, device='gpu0')
    with pytest.raises(ValueError, match='queue_size'):
        FeatureMemoryBank(3, queue_size=0)
    bank = FeatureMemoryBank(3, queue_size=2, feat_shape=(2, ))
    with pytest.raises(ValueError, match='feat_shape'):
        bank.enqueue(torch.zeros(1, 3), torch.tensor([0]), torch.zeros(1, 4))
    with pytest.raises(ValueError, match='num_classes'):
        bank.enqueue(*_items([1], [3]))  # background label C
    bank.enqueue(*_items([1], [0]))
    with pytest.raises(ValueError, match='mean_score'):
        bank.sample(torch.ones(7))
    with pytest.raises(ValueError, match='mean_score'):
        bank.sample(torch.tensor([-1., 1., 1., 1.]))


# ------------------------------------------------------------- sampler


def _filled_bank():
    """C = 5, Q = 3; class c holds ids 10c+1 .. 10c+count_c; class 4 empty,
    class 1 partly filled (2 of 3 slots)."""
    bank = FeatureMemoryBank(5,
                             queue_size=3,
                             feat_shape=(2, ),
                             dtype='float32')
    ids, labels = [], []
    for c, n in [(0, 3), (1, 2), (2, 3), (3, 3)]:
        ids += [10 * c + i + 1 for i in range(n)]
        labels += [c] * n
    bank.enqueue(*_items(ids, labels))
    return bank


# the empty class 4 has the lowest score: it would dominate if drawn
MEAN = torch.tensor([0.1, 0.2, 0.4, 0.05, 0.001, 0.01])


def test_class_probs_exact():
    bank = _filled_bank()
    inv = [1 / (m + 1e-7) for m in [0.1, 0.2, 0.4, 0.05]]
    expected = torch.tensor(inv + [0.], dtype=torch.float64) / sum(inv)
    assert torch.allclose(bank.class_probs(MEAN), expected, rtol=1e-12)
    # roughly 8 : 4 : 2 : 16 over 30
    assert torch.allclose(bank.class_probs(MEAN)[:4].float(),
                          torch.tensor([8., 4., 2., 16.]) / 30,
                          atol=1e-5)


def test_sampler_follows_inverse_mean_score():
    bank = _filled_bank()
    g = torch.Generator().manual_seed(0)
    n = 20000
    feats, labels, targets = bank.sample(MEAN, n, 1, generator=g)
    assert feats.shape == (n, 2) and labels.shape == (n, )
    counts = torch.bincount(labels, minlength=5).double()
    assert counts[4] == 0  # empty queue never drawn
    expected = torch.tensor([8., 4., 2., 16.], dtype=torch.float64) / 30 * n
    chi2 = float(((counts[:4] - expected)**2 / expected).sum())
    assert chi2 < 16.27  # chi-square, 3 dof, p = 0.001
    # every item is a stored entry of its own class, never an empty slot
    ids = feats[:, 0].long()
    assert torch.equal(ids // 10, labels)
    assert torch.equal(targets[:, 0].long(), ids)
    assert set(ids[labels == 1].tolist()) == {11, 12}
    # entries within a class are uniform: class 0 holds 1, 2, 3
    per_entry = torch.bincount(ids[labels == 0] - 1, minlength=3).double()
    e = per_entry.sum() / 3
    assert float(((per_entry - e)**2 / e).sum()) < 13.82  # 2 dof, p=0.001


def test_sample_default_shapes_and_layout():
    bank = _filled_bank()
    g = torch.Generator().manual_seed(3)
    feats, labels, targets = bank.sample(MEAN, generator=g)
    assert feats.shape == (32, 2) and targets.shape == (32, 4)
    # 8 classes x 4 features, class j of the draw in rows 4j .. 4j+3
    assert torch.equal(labels,
                       labels.view(8, 4)[:, :1].expand(8, 4).reshape(-1))
    assert (feats[:, 0].long() // 10 == labels).all()
    # seeded: same generator state, same draw
    again = bank.sample(MEAN, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again[0], feats) and torch.equal(again[1], labels)


def test_sampler_only_filled_class_and_always_full_size():
    bank = FeatureMemoryBank(4,
                             queue_size=2,
                             feat_shape=(2, ),
                             dtype='float32')
    bank.enqueue(*_items([21], [2]))
    # the original would draw mostly empty classes and return < 32 items
    _, labels, _ = bank.sample(torch.tensor([1e-4, 1e-4, 0.9, 1e-4, .01]),
                               generator=torch.Generator().manual_seed(0))
    assert labels.tolist() == [2] * 32


def test_sample_empty_bank():
    bank = FeatureMemoryBank(3, queue_size=2, feat_shape=(4, 2))
    feats, labels, targets = bank.sample(torch.ones(4))
    assert feats.shape == (0, 4, 2) and labels.shape == (0, )
    assert targets.shape == (0, 4) and not bank.is_allocated


# -------------------------------------------------- feature generation


def test_generate_memory_items_with_mmdet_extractor():
    extractor = MODELS.build(
        dict(type='SingleRoIExtractor',
             roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
             out_channels=4,
             featmap_strides=[4, 8]))
    coder = TASK_UTILS.build(
        dict(type='DeltaXYWHBBoxCoder',
             target_means=[0.] * 4,
             target_stds=[0.1, 0.1, 0.2, 0.2]))
    # constant maps: level i has value i + 1, so a feature tells its level
    x = (torch.ones(2, 4, 16, 16,
                    requires_grad=True), torch.full((2, 4, 8, 8), 2.))
    gts = [
        InstanceData(bboxes=torch.tensor([[8., 8., 40., 30.],
                                          [2., 3., 20., 50.]]),
                     labels=torch.tensor([3, 1])),
        InstanceData(bboxes=torch.tensor([[10., 12., 50., 60.]]),
                     labels=torch.tensor([0]))
    ]
    metas = [dict(img_shape=(64, 64)), dict(img_shape=(60, 56))]
    feats, labels, targets = generate_memory_items(
        extractor,
        x,
        gts,
        metas,
        coder,
        generator=torch.Generator().manual_seed(0))
    assert feats.shape == (48, 4, 7, 7) and not feats.requires_grad
    assert labels.tolist() == [3] * 16 + [1] * 16 + [0] * 16
    # all boxes have scale < 112 -> level 0 (value 1) everywhere
    assert torch.allclose(feats, torch.ones_like(feats))
    # targets are deltas from each jittered box to its own GT
    # image 0 draws its U first from the same seed
    boxes = jitter_boxes(gts[0].bboxes, (64, 64),
                         generator=torch.Generator().manual_seed(0))
    gt_rep = torch.cat([g.bboxes.repeat_interleave(16, 0) for g in gts])
    assert torch.allclose(coder.decode(boxes, targets[:32]),
                          gt_rep[:32],
                          atol=1e-4)
    # dx = (gx - px) / pw / 0.1 by hand for the first jittered box
    p, gt0 = boxes[0], gts[0].bboxes[0]
    pw, gw = p[2] - p[0], gt0[2] - gt0[0]
    dx = ((gt0[0] + gt0[2]) / 2 - (p[0] + p[2]) / 2) / pw / 0.1
    dw = torch.log(gw / pw) / 0.2
    assert torch.allclose(targets[0, [0, 2]], torch.stack([dx, dw]), atol=1e-5)
    # without a coder (reg_decoded_bbox heads) targets are the GT boxes
    _, _, abs_t = generate_memory_items(extractor, x, gts, metas, None)
    assert torch.equal(abs_t, gt_rep)


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU-only box')
def test_cuda_device_without_cuda_fails_at_first_enqueue():
    bank = FeatureMemoryBank(2, queue_size=2, feat_shape=(2, ),
                             device='cuda')  # building is fine
    with pytest.raises(RuntimeError, match='device'):
        bank.enqueue(*_items([1], [0]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('device', ['cpu', 'auto', 'cuda'])
def test_cuda_features_into_bank(device):
    bank = FeatureMemoryBank(3, queue_size=2, feat_shape=(2, ), device=device)
    feats, labels, targets = _items([1, 2, 3], [0, 0, 0])
    assert bank.enqueue(feats.cuda(), labels.cuda(), targets.cuda()) == 2
    assert bank.storage_device.type == ('cpu' if device == 'cpu' else 'cuda')
    assert _queue_ids(bank, 0) == [1, 2]
    out, lab, tgt = bank.sample(torch.ones(4, device='cuda'))
    assert out.is_cuda and lab.is_cuda and tgt.is_cuda
    assert set(out[:, 0].tolist()) <= {1., 2.}
