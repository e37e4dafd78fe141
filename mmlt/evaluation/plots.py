"""Plots for long-tailed evaluation results (matplotlib, no display needed)."""
import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['plot_per_class_ap', 'plot_run_comparison', 'plot_class_states']

GROUP_STYLE = {
    'r': ('rare', 'tab:red'),
    'c': ('common', 'tab:orange'),
    'f': ('frequent', 'tab:blue'),
}


def plot_per_class_ap(counts: Sequence,
                      aps: Sequence,
                      groups: Sequence[str],
                      out_file: str,
                      title: Optional[str] = None,
                      scale: float = 100.,
                      xlabel: str = 'training instances of the class') -> str:
    """Scatter per-class AP against training instance count and save a PNG.

    Args:
        counts (Sequence): training instance count per class (log x axis;
            symlog when some count is 0).
        aps (Sequence): AP per class in [0, 1]; nan/None/negative (no GT)
            classes are left out.
        groups (Sequence[str]): 'r'/'c'/'f' per class; points are coloured
            by group and each group's mean AP is drawn as a dashed line.
        out_file (str): path of the PNG (folders are created).
        title (str, optional): figure title.
        scale (float): AP multiplier on the y axis. Defaults to 100.
        xlabel (str): x axis label.

    Returns:
        str: ``out_file``.
    """
    # Figure + Agg canvas instead of pyplot: no global backend switch and
    # no figure registry to leak in long training runs.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not len(counts) == len(aps) == len(groups):
        raise ValueError('counts, aps and groups must have the same length, '
                         f'got {len(counts)}, {len(aps)}, {len(groups)}.')

    def _num(v):
        return math.nan if v is None else float(v)

    x = np.array([_num(c) for c in counts], dtype=np.float64)
    y = np.array([_num(a) for a in aps], dtype=np.float64)
    g = np.array([str(v) for v in groups], dtype=object)
    keep = np.isfinite(x) & np.isfinite(y) & (y >= 0)
    x, y, g = x[keep], y[keep] * scale, g[keep]

    fig = Figure(figsize=(9, 5.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    known = list(GROUP_STYLE) + sorted(set(g) - set(GROUP_STYLE))
    for grp in known:
        sel = g == grp
        if not sel.any():
            continue
        name, color = GROUP_STYLE.get(grp, (grp, 'tab:gray'))
        mean = float(y[sel].mean())
        ax.scatter(
            x[sel],
            y[sel],
            s=10,
            alpha=0.6,
            color=color,
            label=f'{name}: {int(sel.sum())} classes, mean AP {mean:.1f}')
        ax.axhline(mean, color=color, linestyle='--', linewidth=1.2)
    if x.size and (x <= 0).any():
        ax.set_xscale('symlog', linthresh=1)
    elif x.size:
        ax.set_xscale('log')
    else:
        ax.text(
            0.5,
            0.5,
            'no class with both GT and a training count',
            ha='center',
            va='center',
            transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel('AP' if scale == 1 else f'AP (x{scale:g})')
    ax.set_ylim(-0.02 * scale, 1.02 * scale)
    ax.grid(True, which='major', alpha=0.3)
    if title:
        ax.set_title(title)
    if x.size:
        ax.legend(loc='upper left', fontsize='small')
    return _save(fig, out_file)


def _new_figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _set_count_xscale(ax, x: np.ndarray) -> None:
    if x.size and (x <= 0).any():
        ax.set_xscale('symlog', linthresh=1)
    elif x.size:
        ax.set_xscale('log')


def _save(fig, out_file: str) -> str:
    fig.tight_layout()
    out_dir = osp.dirname(out_file)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    fig.savefig(out_file)
    return out_file


def _cmap_color(cmap: str, i: int):
    from matplotlib import colormaps
    return colormaps[cmap](i)


def _log_bins(x: np.ndarray, n: int) -> np.ndarray:
    """``n`` bin edges, log-spaced over the positive counts (0 included in
    the first bin)."""
    pos = x[x > 0]
    if not pos.size:
        return np.array([0., 1.])
    lo, hi = pos.min(), pos.max()
    if hi <= lo:
        return np.array([0., hi + 1])
    edges = np.geomspace(lo, hi, n + 1)
    edges[0], edges[-1] = 0., hi + 1e-9
    return edges


def _binned_means(x: np.ndarray, y: np.ndarray, edges: np.ndarray):
    """Geometric bin centres and mean y of the non-empty bins."""
    idx = np.clip(np.searchsorted(edges, x, side='right') - 1, 0,
                  len(edges) - 2)
    cx, cy = [], []
    for b in range(len(edges) - 1):
        sel = idx == b
        if sel.any():
            cx.append(float(np.exp(np.log(np.maximum(x[sel], 1)).mean())))
            cy.append(float(y[sel].mean()))
    return cx, cy


def _finite_pairs(xs: Sequence, ys: Sequence):
    x = np.array([math.nan if v is None else float(v) for v in xs],
                 dtype=np.float64)
    y = np.array([math.nan if v is None else float(v) for v in ys],
                 dtype=np.float64)
    return x, y


def plot_run_comparison(group_aps: Dict[str, Dict[str, float]],
                        per_class: Dict[str, Dict[str, tuple]],
                        out_file: str,
                        title: Optional[str] = None,
                        scale: float = 100.) -> str:
    """Compare several evaluated runs in one PNG.

    Top: grouped bar chart, one bar per run for each metric (e.g.
    ``bbox APr``). Below: one scatter per IoU type of per-class AP against
    training instance count (log x), one colour per run.

    Args:
        group_aps (dict): ``{run: {label: AP in [0, 1] or None}}``; the
            labels (bar groups) are taken in first-seen order.
        per_class (dict): ``{iou_type: {run: (counts, aps)}}``; classes with
            a missing/negative AP or count are left out.
        out_file (str): path of the PNG (folders are created).
        title (str, optional): figure title.
        scale (float): AP multiplier on the y axes. Defaults to 100.

    Returns:
        str: ``out_file``.
    """
    runs = list(group_aps)
    labels = []
    for m in group_aps.values():
        labels += [k for k in m if k not in labels]
    # tab10 up to 10 runs, tab20 up to 20; beyond that colours repeat and
    # the marker tells the runs apart
    colors = [f'C{i % 10}' if len(runs) <= 10 else
              _cmap_color('tab20', i % 20) for i in range(len(runs))]
    markers = ['o', 's', '^', 'D', 'v'][:1 + (len(runs) - 1) // 20]
    many = len(runs) > 8
    iou_types = [t for t in per_class if per_class[t]]
    n_rows = 1 + len(iou_types)
    # the bar chart grows with runs x labels up to a readable maximum width
    width_in = min(22., max(8., 0.35 * len(labels) * max(1, len(runs)) + 3))
    fig = _new_figure((width_in + (4. if many else 0.), 4.2 * n_rows))
    ax = fig.add_subplot(n_rows, 1, 1)
    width = 0.8 / max(1, len(runs))
    pos = np.arange(len(labels))
    for i, run in enumerate(runs):
        vals = [group_aps[run].get(k) for k in labels]
        h = [math.nan if v is None or v < 0 else v * scale for v in vals]
        bars = ax.bar(pos - 0.4 + width * (i + 0.5), np.nan_to_num(h),
                      width, color=colors[i], label=run)
        if many:  # values would overlap; the table has them
            continue
        for b, v in zip(bars, h):
            if not math.isnan(v):
                ax.annotate(f'{v:.1f}', (b.get_x() + b.get_width() / 2, v),
                            ha='center', va='bottom', fontsize='x-small')
    ax.set_xticks(pos)
    ax.set_xticklabels(labels)
    ax.set_ylabel('AP' if scale == 1 else f'AP (x{scale:g})')
    ax.set_ylim(0, 1.1 * scale)
    ax.grid(True, axis='y', alpha=0.3)
    if runs:
        if many:
            ax.legend(fontsize='small', loc='upper left',
                      bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize='small', ncol=min(4, len(runs)))
    ax.set_title(title or 'AP per frequency group')

    for row, iou in enumerate(iou_types, start=2):
        ax = fig.add_subplot(n_rows, 1, row)
        series = {}
        for run in runs:
            if run not in per_class[iou]:
                continue
            x, y = _finite_pairs(*per_class[iou][run])
            keep = np.isfinite(x) & np.isfinite(y) & (y >= 0) & (x >= 0)
            series[run] = (x[keep], y[keep] * scale)
        x_all = (np.concatenate([x for x, _ in series.values()])
                 if series else np.zeros(0))
        # with many runs the clouds overlap: binned means (log-spaced
        # instance-count bins) carry the comparison, the points stay faint
        edges = _log_bins(x_all, 8) if many else None
        for i, run in enumerate(runs):
            if run not in series:
                continue
            x, y = series[run]
            label = (f'{run}: mean {y.mean():.1f}' if y.size
                     else f'{run}: no class')
            ax.scatter(x, y, s=10 if many else 12,
                       alpha=0.2 if many else 0.6, color=colors[i],
                       marker=markers[i // 20] if many else 'o',
                       label=None if many else label)
            if many:
                cx, cy = _binned_means(x, y, edges)
                ax.plot(cx, cy, color=colors[i], marker=markers[i // 20],
                        markersize=4, linewidth=1.2, label=label)
        _set_count_xscale(ax, x_all)
        ax.set_xlabel('training instances of the class')
        ax.set_ylabel(f'{iou} AP' if scale == 1 else
                      f'{iou} AP (x{scale:g})')
        ax.set_ylim(-0.02 * scale, 1.02 * scale)
        ax.grid(True, alpha=0.3)
        if many:
            ax.legend(fontsize='small', loc='upper left',
                      bbox_to_anchor=(1.01, 1.0))
            ax.set_title(f'per-class {iou} AP vs training instances '
                         '(lines: mean per log-spaced bin)')
        else:
            ax.legend(fontsize='small', loc='upper left')
            ax.set_title(f'per-class {iou} AP vs training instances')
    return _save(fig, out_file)


def plot_class_states(states: Dict[str, Sequence],
                      counts: Sequence,
                      groups: Sequence[str],
                      out_file: str,
                      title: Optional[str] = None) -> str:
    """One scatter per per-class state (e.g. a loss's pos/neg gradient
    ratio) against training instance count (log x), coloured by group.

    Args:
        states (dict): ``{name: per-class values}``, each as long as
            ``counts``.
        counts (Sequence): training instance count per class.
        groups (Sequence[str]): 'r'/'c'/'f' per class.
        out_file (str): path of the PNG (folders are created).
        title (str, optional): figure title.

    Returns:
        str: ``out_file``.
    """
    if not states:
        raise ValueError('no state to plot')
    g = np.array([str(v) for v in groups], dtype=object)
    n = len(states)
    ncols = min(2, n)
    nrows = math.ceil(n / ncols)
    fig = _new_figure((6.5 * ncols, 4.5 * nrows))
    known = list(GROUP_STYLE) + sorted(set(g) - set(GROUP_STYLE))
    for i, (name, vals) in enumerate(states.items(), start=1):
        if not len(vals) == len(counts) == len(g):
            raise ValueError(f'state {name} has {len(vals)} values for '
                             f'{len(counts)} counts and {len(g)} groups')
        x, y = _finite_pairs(counts, vals)
        ax = fig.add_subplot(nrows, ncols, i)
        for grp in known:
            sel = (g == grp) & np.isfinite(x) & np.isfinite(y)
            if not sel.any():
                continue
            label, color = GROUP_STYLE.get(grp, (grp, 'tab:gray'))
            ax.scatter(x[sel], y[sel], s=12, alpha=0.7, color=color,
                       label=f'{label}: mean {y[sel].mean():.3g}')
        ok = np.isfinite(x)
        _set_count_xscale(ax, x[ok])
        fy = y[np.isfinite(y)]
        # cumulative gradients span decades: log y when all positive
        if fy.size and (fy > 0).all() and fy.max() / fy.min() > 100:
            ax.set_yscale('log')
        ax.set_xlabel('training instances of the class')
        ax.set_ylabel(name.split('.')[-1])
        ax.set_title(name, fontsize='small')
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    if title:
        fig.suptitle(title)
    return _save(fig, out_file)
