"""tau-normalisation on hand-made weights: norms become ||w||^(1 - tau),
directions are kept, only the selected rows change."""
import numpy as np
import pytest
import torch

from mmlt.models.layers.tau_norm import (classifier_weight_keys,
                                         row_norm_summary, select_rows,
                                         tau_normalize,
                                         tau_normalize_state_dict)

# row norms 5, 2, 13, 0 (3-4-5, 0-2, 5-12-13 triangles, zero row)
W = torch.tensor([[3., 4.], [0., 2.], [5., 12.], [0., 0.]])


@pytest.mark.parametrize('tau', [0.0, 0.5, 1.0, 2.0])
def test_norms_become_norm_pow_one_minus_tau(tau):
    out = tau_normalize(W, tau)
    norms = torch.tensor([5., 2., 13., 0.])
    expected = norms**(1 - tau)
    expected[3] = 0.
    assert torch.allclose(out.norm(dim=1), expected, atol=1e-6)
    # direction unchanged: w / ||w||^tau = w * ||w||^-tau
    assert torch.allclose(out[:3], W[:3] * norms[:3, None]**(-tau))
    assert torch.equal(out[3], torch.zeros(2))


def test_tau_one_hand_values_and_input_untouched():
    w = W.clone()
    out = tau_normalize(w, 1.0)
    expected = torch.tensor([[0.6, 0.8], [0., 1.], [5 / 13, 12 / 13],
                             [0., 0.]])
    assert torch.allclose(out, expected)
    assert torch.equal(w, W)


def test_select_rows_only():
    out = tau_normalize(W, 1.0, rows=[0, 2])
    assert torch.allclose(out[0], torch.tensor([0.6, 0.8]))
    assert torch.allclose(out[2], torch.tensor([5 / 13, 12 / 13]))
    assert torch.equal(out[1], W[1]) and torch.equal(out[3], W[3])
    assert torch.equal(tau_normalize(W, 1.0, rows=[]), W)
    with pytest.raises(ValueError, match='rows must lie'):
        tau_normalize(W, 1.0, rows=[4])


def test_select_rows_from_groups():
    groups = np.array(['f', 'r', 'c', 'r', 'f'])  # C = 5, row 5 = bg
    assert select_rows(groups, ['r', 'c']) == [1, 2, 3]
    assert select_rows(groups, ['f', 'bg']) == [0, 4, 5]
    assert select_rows(groups, ['r', 'c', 'f']) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match='unknown group'):
        select_rows(groups, ['x'])


def test_state_dict_all_cascade_stages_bias_kept():
    sd = {
        'roi_head.bbox_head.0.fc_cls.weight': W.clone(),
        'roi_head.bbox_head.0.fc_cls.bias': torch.arange(4.),
        'roi_head.bbox_head.1.fc_cls.weight': 2 * W.clone(),
        'roi_head.bbox_head.1.fc_reg.weight': W.clone(),
    }
    assert classifier_weight_keys(sd) == [
        'roi_head.bbox_head.0.fc_cls.weight',
        'roi_head.bbox_head.1.fc_cls.weight'
    ]
    changed = tau_normalize_state_dict(sd, 1.0, rows=[0], num_classes=3)
    assert len(changed) == 2
    for k in changed:
        assert torch.allclose(sd[k][0], torch.tensor([0.6, 0.8]))
        assert torch.allclose(sd[k][1:], W[1:] * (2 if '.1.' in k else 1))
    assert torch.equal(sd['roi_head.bbox_head.0.fc_cls.bias'],
                       torch.arange(4.))
    assert torch.equal(sd['roi_head.bbox_head.1.fc_reg.weight'], W)
    with pytest.raises(ValueError, match='expected 5 \\+ 1 rows'):
        tau_normalize_state_dict(sd, 1.0, num_classes=5)
    with pytest.raises(KeyError, match='fc_cls'):
        tau_normalize_state_dict({'x.weight': W}, 1.0)


def test_row_norm_summary():
    s = row_norm_summary(W, ['r', 'r', 'f'])
    assert s['r'] == dict(n=2, mean=3.5, min=2.0, max=5.0)
    assert s['f']['mean'] == pytest.approx(13.)
    assert s['bg']['mean'] == 0.0 and 'c' not in s
