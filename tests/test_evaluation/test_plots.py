"""mmlt.evaluation.plots: the run-comparison PNG stays readable with many
runs (bounded width, distinct colours, binned means)."""
import numpy as np
import pytest

from mmlt.evaluation import plots

matplotlib = pytest.importorskip('matplotlib')


def test_binned_means_by_hand():
    x = np.array([0., 1., 2., 10., 10., 100.])
    y = np.array([5., 1., 3., 20., 40., 7.])
    edges = plots._log_bins(x, 2)  # positive range 1..100: split at 10
    assert edges[0] == 0 and edges[-1] > 100
    np.testing.assert_allclose(edges[1], 10.)
    cx, cy = plots._binned_means(x, y, edges)
    # bin 1: x in {0, 1, 2} -> mean y 3, centre exp(mean log max(x, 1)) =
    # 2^(1/3); bin 2: x in {10, 10, 100} -> mean 67/3, centre 10000^(1/3)
    np.testing.assert_allclose(cy, [3., 67. / 3])
    np.testing.assert_allclose(cx, [2 ** (1 / 3), 10000 ** (1 / 3)])
    assert list(plots._log_bins(np.zeros(3), 4)) == [0., 1.]


@pytest.mark.parametrize('n_runs', [3, 17])
def test_many_runs_png(tmp_path, n_runs):
    from matplotlib.image import imread
    rng = np.random.default_rng(0)
    runs = [f'run{i}' for i in range(n_runs)]
    group = {r: {'bbox APr': rng.random(), 'bbox APc': rng.random(),
                 'bbox APf': None} for r in runs}
    counts = list(rng.integers(1, 300, 40))
    per_class = {'bbox': {r: (counts, list(rng.random(40))) for r in runs}}
    out = plots.plot_run_comparison(group, per_class,
                                    str(tmp_path / 'cmp.png'))
    h, w = imread(out).shape[:2]
    assert w <= 26 * 120 and h >= 2 * 4.2 * 120 * 0.9
    # more than 10 runs: tab20, so the first 17 colours are distinct
    if n_runs > 10:
        cols = {plots._cmap_color('tab20', i) for i in range(n_runs)}
        assert len(cols) == n_runs
