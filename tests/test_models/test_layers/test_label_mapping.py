"""GroupSoftmaxLabelMapping (BAGS groups) on hand-made count tables."""
import json
import os.path as osp
from unittest import mock

import pytest
import torch

import mmlt  # noqa: F401  (registers)
from mmdet.registry import TASK_UTILS
from mmlt.datasets.class_stats import ClassStats
from mmlt.models.layers import GroupSoftmaxLabelMapping

# bins of (10, 100, 1000): 3 -> <10, 15 -> [10,100), 150 -> [100,1000),
# 2000 -> >=1000, 9 -> <10, 40 -> [10,100)
COUNTS = [3, 15, 150, 2000, 9, 40]
C = 6
# hand-written: row g maps label -> in-group label (0 = others); bg = 6
L2B = [
    [0, 0, 0, 0, 0, 0, 1],  # bg group: every fg -> 0 (fg), bg -> 1
    [1, 0, 0, 0, 2, 0, 0],  # <10: classes 0, 4
    [0, 1, 0, 0, 0, 2, 0],  # [10,100): classes 1, 5
    [0, 0, 1, 0, 0, 0, 0],  # [100,1000): class 2
    [0, 0, 0, 1, 0, 0, 0],  # >=1000: class 3
]
# lengths 2, 2+1, 2+1, 1+1, 1+1 -> starts 0, 2, 5, 8, 10; 12 = C + 1 + 5
PRED_SLICE = [[0, 2], [2, 3], [5, 3], [8, 2], [10, 2]]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMLT_CACHE_DIR', str(tmp_path / 'cache'))


def build(**kw):
    kw.setdefault('instance_counts', COUNTS)
    return GroupSoftmaxLabelMapping(**kw)


def test_registered_and_default_groups():
    m = TASK_UTILS.build(
        dict(type='GroupSoftmaxLabelMapping', instance_counts=COUNTS))
    assert isinstance(m, GroupSoftmaxLabelMapping)
    assert m.num_classes == C and m.num_groups == 5
    assert m.num_channels == 12 == C + 1 + 5
    assert m.label2binlabel.tolist() == L2B
    assert m.pred_slice.tolist() == PRED_SLICE
    assert m.group_sizes == [1, 2, 2, 1, 1]
    assert m.group_names == [
        'background', '[0, 10)', '[10, 100)', '[100, 1000)', '[1000, inf)'
    ]
    assert m.group_ranges[0] is None
    assert m.group_ranges[1:] == [(0., 10.), (10., 100.), (100., 1000.),
                                  (1000., None)]
    # membership in class-index order
    assert m.members(1).tolist() == [0, 4]
    assert m.members(2).tolist() == [1, 5]
    assert m.members(3).tolist() == [2]
    assert m.members(4).tolist() == [3]
    assert m.members(0).tolist() == [C]
    # class -> (group, in-group label), bg in group 0 at in-group label 1
    assert m.class_group.tolist() == [1, 2, 3, 4, 1, 2, 0]
    assert m.class_position.tolist() == [1, 1, 1, 1, 2, 2, 1]
    # absolute logit of each label: start + position
    assert m.label_channel.tolist() == [3, 6, 9, 11, 4, 7, 1]
    # "others" logit = slice start; group 0's others means foreground
    assert m.fg_channel == 0
    assert m.pred_slice[:, 0].tolist() == [0, 2, 5, 8, 10]
    # static tables are never checkpointed
    assert m.state_dict() == {}


def test_targets_and_member():
    m = build()
    labels = torch.tensor([0, 3, 6, 4])
    target, member = m.targets(labels)
    starts = torch.tensor([0, 2, 5, 8, 10])
    hand = torch.tensor(L2B)[:, labels].t() + starts
    assert torch.equal(target, hand)
    assert member.tolist() == [
        [False, True, False, False, False],
        [False, False, False, False, True],
        [True, False, False, False, False],  # bg: member of group 0 only
        [False, True, False, False, False],
    ]


def test_bisect_right_boundaries():
    # 10, 100, 1000 open the next bin (bisect_right); 0 falls in the first
    m = build(instance_counts=[9, 10, 99, 100, 999, 1000, 0])
    assert m.class_group.tolist() == [1, 2, 2, 3, 3, 4, 1, 0]


def test_empty_bins_dropped_with_log():
    with mock.patch('mmlt.models.layers.label_mapping.print_log') as log:
        m = build(instance_counts=[3, 2000, 5, 1500])
    msgs = ' '.join(str(c.args[0]) for c in log.call_args_list)
    assert 'dropping' in msgs and '[10, 100)' in msgs and \
        '[100, 1000)' in msgs
    assert m.num_groups == 3 and m.num_channels == 4 + 1 + 3
    assert m.group_ranges[1:] == [(0., 10.), (1000., None)]
    assert m.label2binlabel.tolist() == [
        [0, 0, 0, 0, 1],
        [1, 0, 2, 0, 0],
        [0, 1, 0, 2, 0],
    ]
    assert m.pred_slice.tolist() == [[0, 2], [2, 3], [5, 3]]


def test_custom_edges():
    m = build(bin_edges=(5, 50))
    # 3 -> <5; 15, 9, 40 -> [5,50); 150, 2000 -> >=50
    assert m.num_groups == 4
    assert [m.members(g).tolist() for g in (1, 2, 3)] == [[0], [1, 4, 5],
                                                         [2, 3]]
    assert m.pred_slice.tolist() == [[0, 2], [2, 2], [4, 4], [8, 3]]
    assert m.group_names[1:] == ['[0, 5)', '[5, 50)', '[50, inf)']
    # a single edge: two fg groups
    m = build(bin_edges=[100])
    assert [m.members(g).tolist() for g in (1, 2)] == [[0, 1, 4, 5], [2, 3]]


@pytest.mark.parametrize('edges', [[], [10, 10], [100, 10], ['a']])
def test_bad_edges(edges):
    with pytest.raises(ValueError, match='bin_edges'):
        build(bin_edges=edges)


def test_count_errors():
    with pytest.raises(ValueError, match='instance_counts'):
        build(instance_counts=[3, -1])
    with pytest.raises(ValueError, match='instance_counts'):
        build(instance_counts=[1.5, 2])
    with pytest.raises(ValueError, match='label_mapping.ann_file'):
        GroupSoftmaxLabelMapping()
    with pytest.raises(FileNotFoundError, match='ann_file'):
        GroupSoftmaxLabelMapping(ann_file='/nonexistent/train.json')


def test_num_classes_mismatch_names_key():
    with pytest.raises(ValueError, match=r'label_mapping.num_classes=7'):
        build(num_classes=7)
    assert build(num_classes=6).num_classes == 6


def _lvis_json(path):
    """3 classes: 'bus' 12 instances, 'apple' 2, 'cat' 1 (ids unsorted)."""
    cats = [
        dict(id=5, name='bus', frequency='c', image_count=4),
        dict(id=1, name='apple', frequency='r', image_count=2),
        dict(id=9, name='cat', frequency='r', image_count=1),
    ]
    images = [
        dict(id=i, width=32, height=32,
             coco_url=f'http://x/train2017/{i:012d}.jpg') for i in range(4)
    ]
    pairs = [(i % 4, 5) for i in range(12)] + [(0, 1), (1, 1), (2, 9)]
    anns = [
        dict(id=k + 1, image_id=img, category_id=cat, bbox=[1, 1, 5, 5],
             area=25.) for k, (img, cat) in enumerate(pairs)
    ]
    with open(path, 'w') as f:
        json.dump(dict(categories=cats, images=images, annotations=anns), f)
    return str(path)


def test_from_ann_file_and_stats_file(tmp_path):
    ann = _lvis_json(tmp_path / 'train.json')
    m = GroupSoftmaxLabelMapping(ann_file=ann, num_classes=3)
    # labels follow sorted category ids: apple (2), bus (12), cat (1)
    assert m.class_names == ['apple', 'bus', 'cat']
    assert m.instance_counts.tolist() == [2, 12, 1]
    assert m.num_groups == 3
    assert [m.members(g).tolist() for g in (1, 2)] == [[0, 2], [1]]
    stats = tmp_path / 'stats.json'
    ClassStats.from_lvis_json(ann).save(str(stats))
    m2 = GroupSoftmaxLabelMapping(stats_file=str(stats))
    assert torch.equal(m.label2binlabel, m2.label2binlabel)


def test_file_round_trip(tmp_path):
    m = build(class_names=list('abcdef'))
    paths = m.save(str(tmp_path / 'map'))
    assert [osp.basename(p) for p in paths] == [
        'label2binlabel.pt', 'pred_slice.pt', 'bags_mapping.json'
    ]
    for src in (str(tmp_path / 'map'), paths[0]):
        m2 = GroupSoftmaxLabelMapping(mapping_file=src, num_classes=C)
        for name in ('label2binlabel', 'pred_slice', 'label_channel',
                     'class_group', 'class_position', 'target_channel',
                     'member'):
            assert torch.equal(getattr(m, name), getattr(m2, name)), name
        assert m2.fg_channel == m.fg_channel
        assert m2.group_names == m.group_names  # ranges from the json
    info = json.load(open(paths[2]))
    assert info['num_channels'] == 12 and info['num_groups'] == 5
    g1 = info['groups'][1]
    assert g1['name'] == '[0, 10)' and g1['slice'] == [2, 3]
    assert [(c['label'], c['name'], c['instance_count'])
            for c in g1['classes']] == [(0, 'a', 3), (4, 'e', 9)]
    # the head's num_classes must match the files
    with pytest.raises(ValueError, match='num_classes=5'):
        GroupSoftmaxLabelMapping(mapping_file=paths[0], num_classes=5)
    # one source only
    with pytest.raises(ValueError, match='one source'):
        GroupSoftmaxLabelMapping(mapping_file=paths[0], instance_counts=[1])


def test_file_errors(tmp_path):
    out = tmp_path / 'map'
    build().save(str(out))
    with pytest.raises(FileNotFoundError, match='bags_mapping.py'):
        GroupSoftmaxLabelMapping(mapping_file=str(tmp_path / 'none'))
    # pred_slice not matching the groups
    torch.save(torch.tensor(PRED_SLICE[:-1] + [[10, 3]]),
               str(out / 'bad_slice.pt'))
    with pytest.raises(ValueError, match='does not match the groups'):
        GroupSoftmaxLabelMapping(
            mapping_file=str(out), pred_slice_file=str(out / 'bad_slice.pt'))
    # a class in two groups
    bad = torch.tensor(L2B)
    bad[2, 0] = 3
    torch.save(bad, str(out / 'label2binlabel.pt'))
    with pytest.raises(ValueError, match='exactly one foreground group'):
        GroupSoftmaxLabelMapping(mapping_file=str(out))
    torch.save(torch.rand(3), str(out / 'label2binlabel.pt'))
    with pytest.raises(ValueError, match='integer tensor'):
        GroupSoftmaxLabelMapping(mapping_file=str(out))


def test_original_convention_files(tmp_path):
    """The original's files: label 0 = background, labels 1..C = classes,
    background group [bg, fg]."""
    orig = torch.tensor(L2B)
    orig = torch.cat([orig[:, -1:], orig[:, :-1]], 1)  # bg column first
    orig[0] = torch.tensor([0, 1, 1, 1, 1, 1, 1])  # bg -> 0, fg -> 1
    torch.save(orig, str(tmp_path / 'label2binlabel.pt'))
    torch.save(torch.tensor(PRED_SLICE), str(tmp_path / 'pred_slice.pt'))
    with pytest.raises(ValueError, match="file_label_convention='original'"):
        GroupSoftmaxLabelMapping(mapping_file=str(tmp_path))
    m = GroupSoftmaxLabelMapping(
        mapping_file=str(tmp_path), file_label_convention='original')
    assert m.label2binlabel[1:].tolist() == L2B[1:]
    assert m.fg_channel == 1 and m.label_channel[C].item() == 0
    # merged scores use logit 1 as P(fg) and logit 0 as P(bg)
    z = torch.randn(3, 12, dtype=torch.float64)
    s = m.merge_scores(z)
    p0 = z[:, :2].softmax(1)
    torch.testing.assert_close(s[:, C], p0[:, 0])
    torch.testing.assert_close(s[:, 3], p0[:, 1] * z[:, 10:12].softmax(1)[:,
                                                                         1])


def test_merge_scores_hand_formula():
    m = build()
    torch.manual_seed(0)
    z = torch.randn(4, 12, dtype=torch.float64) * 3
    s = m.merge_scores(z)
    p0 = torch.softmax(z[:, 0:2], 1)
    hand = torch.empty(4, C + 1, dtype=torch.float64)
    hand[:, 6] = p0[:, 1]
    # (class, slice start, slice length, in-group index)
    for c, start, length, pos in [(0, 2, 3, 1), (4, 2, 3, 2), (1, 5, 3, 1),
                                  (5, 5, 3, 2), (2, 8, 2, 1), (3, 10, 2, 1)]:
        p = torch.softmax(z[:, start:start + length], 1)
        hand[:, c] = p0[:, 0] * p[:, pos]
    torch.testing.assert_close(s, hand)
    # same through the explicit per-group softmax helper
    prob = m.group_softmax(z)
    torch.testing.assert_close(prob[:, 2:5], torch.softmax(z[:, 2:5], 1))
    with pytest.raises(ValueError, match='expected 12 logits'):
        m.merge_scores(z[:, :11])
