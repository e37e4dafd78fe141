"""Plots for long-tailed evaluation results (matplotlib, no display needed)."""
import math
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

__all__ = ['plot_per_class_ap']

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
    fig.tight_layout()
    out_dir = osp.dirname(out_file)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    fig.savefig(out_file)
    return out_file
