"""EqualizationLoss (EQL) against hand-derived weights, values and grads."""
import pytest
import torch
import torch.nn.functional as F

from mmdet.registry import MODELS
from mmlt.datasets.class_stats import ClassStats
from mmlt.models.losses import EqualizationLoss

# classes 1 and 3 are below lambda(v1) = 0.0011 -> tail
FREQ = [0.5, 0.0005, 0.01, 0.0001]


def explicit_eql(z,
                 labels,
                 tail,
                 weight=None,
                 avg_factor=None,
                 loss_weight=1.0):
    """The paper's formula with full-size tensors (reference)."""
    n, c = z.shape
    y = torch.zeros(n, c + 1, dtype=z.dtype)
    y[torch.arange(n), labels] = 1
    y = y[:, :c]
    e = (labels != c).to(z.dtype)[:, None]
    t = torch.as_tensor(tail, dtype=z.dtype)[None, :]
    w = 1 - e * t * (1 - y)
    if weight is not None:
        w = w * weight[:, None]
    bce = F.binary_cross_entropy_with_logits(z, y, reduction='none')
    denom = n if avg_factor is None else avg_factor
    return loss_weight * (w * bce).sum() / denom


def test_registered_and_tail_classes():
    loss = MODELS.build(dict(type='EqualizationLoss', class_freq=FREQ))
    assert isinstance(loss, EqualizationLoss)
    assert isinstance(MODELS.build(dict(type='EQL', class_freq=FREQ)),
                      EqualizationLoss)
    assert loss.lambda_ == 0.0011 and loss.num_classes == 4
    assert loss.tail_mask.tolist() == [False, True, False, True]
    # v0.5 default lambda 0.00177; explicit lambda_ overrides the version
    assert EqualizationLoss(class_freq=FREQ, version='v0.5').lambda_ == \
        0.00177
    loss = EqualizationLoss(class_freq=FREQ, lambda_=0.02)
    assert loss.tail_mask.tolist() == [False, True, True, True]
    # tail mask is not checkpointed (static, from the statistics)
    assert 'tail_mask' not in loss.state_dict()


def test_weights_hand_made_case():
    """fg head RoI, fg tail RoI, bg RoI, fg common RoI."""
    loss = EqualizationLoss(class_freq=FREQ, reduction='none')
    z = torch.tensor([[2., -1., 0.5, -3.], [0.1, 1.5, -2., 0.3],
                      [-1., 0.2, 0.7, -0.4], [0.3, -0.6, 1.1, 2.2]])
    labels = torch.tensor([0, 1, 4, 2])
    w = torch.tensor([
        [1., 0., 1., 0.],  # fg: tail negatives (1, 3) switched off
        [1., 1., 1., 0.],  # fg of tail class 1: its positive stays
        [1., 1., 1., 1.],  # bg: every class pushed down
        [1., 0., 1., 0.],
    ])
    y = torch.zeros(4, 4)
    y[0, 0] = y[1, 1] = y[3, 2] = 1
    bce = F.binary_cross_entropy_with_logits(z, y, reduction='none')
    torch.testing.assert_close(loss(z, labels), w * bce)


@pytest.mark.parametrize('use_weight', [False, True])
def test_value_and_grad_match_explicit_formula(use_weight):
    torch.manual_seed(0)
    n, c = 24, 9
    freq = torch.rand(c).mul(0.002).tolist()
    tail = [f < 0.0011 for f in freq]
    assert 0 < sum(tail) < c
    labels = torch.randint(0, c + 1, (n, ))
    labels[:6] = c  # some background RoIs
    z = torch.randn(n, c, dtype=torch.float64) * 3
    weight = torch.rand(n, dtype=torch.float64) if use_weight else None
    avg = 17.0 if use_weight else None
    loss = EqualizationLoss(class_freq=freq, loss_weight=2.5)

    z1 = z.clone().requires_grad_()
    out = loss(z1, labels, weight, avg_factor=avg)
    out.backward()
    z2 = z.clone().requires_grad_()
    ref = explicit_eql(z2, labels, tail, weight, avg, loss_weight=2.5)
    ref.backward()
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-12, atol=1e-14)

    # 'sum' skips the normaliser
    out_sum = loss(z, labels, weight, reduction_override='sum')
    denom = avg if avg is not None else n
    torch.testing.assert_close(out_sum, ref.detach() * denom)


def test_fp32_matches_explicit_formula():
    torch.manual_seed(1)
    n, c = 64, 30
    freq = torch.rand(c).mul(0.003).tolist()
    tail = [f < 0.0011 for f in freq]
    labels = torch.randint(0, c + 1, (n, ))
    z = torch.randn(n, c) * 4
    z1 = z.clone().requires_grad_()
    out = EqualizationLoss(class_freq=freq)(z1,
                                            labels,
                                            torch.ones(n),
                                            avg_factor=float(n))
    out.backward()
    z2 = z.clone().requires_grad_()
    ref = explicit_eql(z2, labels, tail)
    ref.backward()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-5, atol=1e-8)


def test_gradcheck():
    torch.manual_seed(2)
    z = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 4, 3, 4, 2, 1])
    w = torch.rand(7, dtype=torch.float64)
    loss = EqualizationLoss(class_freq=FREQ)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels, w), (z, ))


def test_tail_negative_gradient_only_from_background():
    torch.manual_seed(3)
    loss = EqualizationLoss(class_freq=FREQ)
    labels = torch.tensor([0, 2, 0, 4, 4, 1])
    z = torch.randn(6, 4, requires_grad=True)
    loss(z, labels).backward()
    g = z.grad
    fg_not_tail_label = torch.tensor([0, 1, 2])
    tail = torch.tensor([1, 3])
    # fg RoIs of other classes send exactly zero gradient to tail logits
    assert torch.equal(g[fg_not_tail_label][:, tail], torch.zeros(3, 2))
    assert g[5, 3] == 0  # tail RoI of class 1 -> other tail class 3
    # ... its own (positive) logit is pulled up
    assert g[5, 1] < 0
    # bg RoIs push every class, tail included, down: dL/dz = p / N > 0
    p = torch.sigmoid(z.detach())
    torch.testing.assert_close(g[3:5], p[3:5] / 6)


def test_instance_count_mode(tmp_path):
    counts = [5000, 1000, 1652, 20]
    loss = EqualizationLoss(class_freq=counts, version='openimage')
    assert loss.freq_type == 'instance_count' and loss.lambda_ == 1652
    # strictly below lambda: the 1652-instance class is not tail
    assert loss.tail_mask.tolist() == [False, True, False, True]

    # from a class-stats file: instance counts vs image frequency
    stats = ClassStats(cat_ids=[1, 2, 3, 4],
                       names=['a', 'b', 'c', 'd'],
                       image_count=[900, 3, 40, 1],
                       instance_count=[5000, 10, 2000, 700],
                       num_images=1000,
                       groups=['f', 'r', 'c', 'r'])
    path = str(tmp_path / 'stats.json')
    stats.save(path)
    by_inst = EqualizationLoss(stats_file=path,
                               freq_type='instance_count',
                               lambda_=1000)
    assert by_inst.tail_mask.tolist() == [False, True, False, True]
    by_img = EqualizationLoss(stats_file=path, lambda_=0.005)
    # image frequency 0.9, 0.003, 0.04, 0.001
    assert by_img.tail_mask.tolist() == [False, True, False, True]
    by_img = EqualizationLoss(stats_file=path, lambda_=0.05)
    assert by_img.tail_mask.tolist() == [False, True, True, True]


def test_errors_name_file_and_keys(tmp_path):
    missing = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        EqualizationLoss(ann_file=missing)
    with pytest.raises(ValueError, match='class_freq'):
        EqualizationLoss()
    with pytest.raises(ValueError, match='loss_cls.num_classes=5'):
        EqualizationLoss(class_freq=FREQ, num_classes=5)
    loss = EqualizationLoss(class_freq=FREQ)
    # C+1 logits (a softmax-style / EQLv2 classifier) are refused
    with pytest.raises(ValueError, match='loss_cls.num_classes'):
        loss(torch.zeros(3, 5), torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match='bbox_head.num_classes=6'):
        loss.get_cls_channels(6)
    assert loss.get_cls_channels(4) == 4
    with pytest.raises(ValueError, match='per RoI'):
        loss(torch.zeros(3, 4), torch.tensor([0, 1, 4]), torch.ones(3, 4))


def test_activation_accuracy_and_empty_input():
    loss = EqualizationLoss(class_freq=FREQ)
    z = torch.tensor([[3., -2., 0., -1.], [-3., -4., -2., -5.]])
    act = loss.get_activation(z)
    assert act.shape == (2, 5)
    torch.testing.assert_close(act[:, :4], torch.sigmoid(z))
    assert torch.equal(act[:, 4], torch.zeros(2))
    acc = loss.get_accuracy(z, torch.tensor([0, 4]))
    # RoI 0: class 0 with p > 0.5; RoI 1: no class above 0.5 -> background
    assert float(acc['acc']) == 100 and float(acc['acc_fg']) == 100
    acc = loss.get_accuracy(z, torch.tensor([2, 1]))
    assert float(acc['acc']) == 0

    z = torch.zeros(0, 4, requires_grad=True)
    out = loss(z, torch.zeros(0, dtype=torch.long))
    out.backward()
    assert out.item() == 0 and z.grad.shape == (0, 4)


def test_class_freq_from_lvis_json(tmp_path, monkeypatch):
    """ann_file: image frequency = #images with the class / #images."""
    import json
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))
    cats = [
        dict(id=i,
             name=f'c{i}',
             frequency='r',
             image_count=0,
             instance_count=0) for i in (1, 2, 3)
    ]
    images = [dict(id=k, width=8, height=8) for k in range(10)]
    # class 1 in 6 images (twice in image 0), class 2 in 1, class 3 in 0
    pairs = [(0, 1), (0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 2)]
    anns = [
        dict(id=k + 1, image_id=im, category_id=c, bbox=[0, 0, 2, 2], area=4)
        for k, (im, c) in enumerate(pairs)
    ]
    path = tmp_path / 'train.json'
    path.write_text(
        json.dumps(dict(categories=cats, images=images, annotations=anns)))
    with pytest.warns(UserWarning):  # category table disagrees with counts
        loss = EqualizationLoss(ann_file=str(path), lambda_=0.2)
    # frequencies 0.6, 0.1, 0.0
    assert loss.tail_mask.tolist() == [False, True, True]
    loss = EqualizationLoss(ann_file=str(path),
                            freq_type='instance_count',
                            lambda_=2)
    # instance counts 7, 1, 0
    assert loss.tail_mask.tolist() == [False, True, True]


def test_tail_classes_over_annotated_images(tmp_path):
    """The original's frequencies divide by the training images with
    annotations (LVIS v1: 99,388 of 100,170): a class in 2 of 1,000 images,
    100 of them empty, has f = 2/900 = 0.00222 (not tail at lambda 0.0021)
    and 2/1000 = 0.002 over all images (tail)."""
    stats = ClassStats(cat_ids=[1, 2], names=['a', 'b'],
                       image_count=[2, 800], instance_count=[2, 900],
                       num_images=1000, groups=['r', 'f'],
                       num_annotated_images=900)
    path = str(tmp_path / 'stats.json')
    stats.save(path)
    default = EqualizationLoss(stats_file=path, lambda_=0.0021)
    assert default.tail_mask.tolist() == [False, False]
    every = EqualizationLoss(stats_file=path, lambda_=0.0021,
                             freq_images='all')
    assert every.tail_mask.tolist() == [True, False]
    with pytest.raises(ValueError, match='freq_images'):
        EqualizationLoss(stats_file=path, freq_images='some')
