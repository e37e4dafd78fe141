"""Class groups of Balanced Group Softmax (BAGS; Li et al., "Overcoming
Classifier Imbalance for Long-tail Object Detection with Balanced Group
Softmax", CVPR 2020).

Foreground classes are binned by their number of training *instances*::

    bin(c) = bisect_right(bin_edges, instance_count[c])
    bin_edges = (10, 100, 1000)  ->  [0, 10), [10, 100), [100, 1000), [1000, inf)

Labels follow mmdet 3.x: ``0..C-1`` foreground, ``C`` background.  mmlt's
logit layout (``K = C + 1 + G`` channels, ``G`` groups incl. background)::

    group 0 (background group): [fg ("others"), bg]       2 logits
    group g = 1..G-1:           [others, members...]      n_g + 1 logits

Each group's slice starts with its "others" logit at in-group index 0,
followed by its member classes in class-index order; fg groups follow the
bin order, empty bins are dropped.  So in-group labels are: group 0: any
foreground label -> 0, background -> 1; group g: member -> 1..n_g,
everything else (other classes and background) -> 0.

The original code (mmdet v1, label 0 = background) put the background group
first as ``[bg, fg]`` and its files index columns by the old labels; load
them with ``file_label_convention='original'`` (see
:class:`GroupSoftmaxLabelMapping`).
"""
import bisect
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from mmdet.registry import TASK_UTILS

__all__ = ['GroupSoftmaxLabelMapping', 'DEFAULT_BIN_EDGES']

#: instance-count bin edges of the paper: <10, [10,100), [100,1000), >=1000
DEFAULT_BIN_EDGES = (10, 100, 1000)

#: file names written by :meth:`GroupSoftmaxLabelMapping.save`
LABEL2BINLABEL_FILE = 'label2binlabel.pt'
PRED_SLICE_FILE = 'pred_slice.pt'
JSON_FILE = 'bags_mapping.json'

#: config key of the mapping inside a two-stage detector config
MAPPING_KEY = 'model.roi_head.bbox_head.loss_cls.label_mapping'


def _range_name(lo: float, hi: Optional[float]) -> str:
    fmt = '{:g}'.format
    return f'[{fmt(lo)}, {"inf" if hi is None else fmt(hi)})'


@TASK_UTILS.register_module()
class GroupSoftmaxLabelMapping(nn.Module):
    """Label <-> group mapping of Balanced Group Softmax (layout in the module
    docstring).

    Built from class instance counts (by precedence ``instance_counts``,
    ``stats_file``, ``ann_file``; via :mod:`mmlt.datasets.class_stats`) and
    ``bin_edges``, or loaded from files written by ``tools/misc/
    bags_mapping.py`` (``mapping_file``).  An ``nn.Module`` only so that its
    index tables (non-persistent buffers, never in checkpoints) follow the
    loss to its device.

    Attributes:
        num_classes (int): C.
        num_groups (int): G, including the background group 0.
        num_channels (int): K = C + 1 + G logits.
        label2binlabel (LongTensor): [G, C+1], row g maps a label to its
            in-group label (0 = others), like the original's file.
        pred_slice (LongTensor): [G, 2], (start, length) of each group's
            logits; the slices are contiguous and in group order.
        class_group (LongTensor): [C+1] group of each label (bg: 0).
        class_position (LongTensor): [C+1] in-group label of each label in
            its own group.
        label_channel (LongTensor): [C+1] logit index of each label in its
            own group (bg: its channel in group 0).
        fg_channel (int): logit of group 0 that means "foreground".
        group_ranges (list): per group, ``None`` for group 0, else the kept
            instance-count bin ``(lo, hi)`` (``hi=None``: unbounded; both
            ``None`` when loaded from files without range information).
        group_names (list[str]): 'background', '[10, 100)', ...

    Args:
        num_classes (int, optional): expected C; checked against the counts
            or files (set it to the head's ``num_classes``).
        instance_counts (list[int], optional): per-class training instance
            counts in label order.
        ann_file (str, optional): LVIS-format training annotations.
        stats_file (str, optional): class-stats json of the training set
            (``tools/misc/class_stats.py``).
        bin_edges (sequence[float]): strictly increasing instance-count
            edges; ``bisect_right`` picks the bin.
        mapping_file (str, optional): ``label2binlabel.pt`` or the folder
            holding it and ``pred_slice.pt`` (the tool's output); replaces
            the counts.
        pred_slice_file (str, optional): explicit ``pred_slice`` file
            (default: ``pred_slice.pt`` beside ``mapping_file``).
        file_label_convention (str): 'mmdet' (mmlt's files) or 'original'
            (BAGS's files: column 0 = background, column l = class l - 1;
            valid where category ids are 1..C in order, as in LVIS v0.5/v1).
        class_names (list[str], optional): for the json summary.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 instance_counts: Optional[Sequence[int]] = None,
                 ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 bin_edges: Sequence[float] = DEFAULT_BIN_EDGES,
                 mapping_file: Optional[str] = None,
                 pred_slice_file: Optional[str] = None,
                 file_label_convention: str = 'mmdet',
                 class_names: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        self.bin_edges = self._check_edges(bin_edges)
        self.instance_counts = None
        self.class_names = None if class_names is None else \
            [str(n) for n in class_names]
        if mapping_file is not None:
            if any(x is not None
                   for x in (instance_counts, ann_file, stats_file)):
                raise ValueError(
                    f'GroupSoftmaxLabelMapping: {MAPPING_KEY}.mapping_file '
                    'is given together with instance_counts/ann_file/'
                    'stats_file; use one source of the groups')
            l2b, pred_slice, ranges, src = self._load_files(
                mapping_file, pred_slice_file, file_label_convention)
            self.source = src
        else:
            counts, names, src = self._load_counts(instance_counts, ann_file,
                                                   stats_file)
            if self.class_names is None:
                self.class_names = names
            self.instance_counts = counts
            self.source = src
            l2b, pred_slice, ranges = self._build(counts, self.bin_edges)
        if num_classes is not None and int(num_classes) != l2b.shape[1] - 1:
            raise ValueError(
                f'GroupSoftmaxLabelMapping: {self.source} describes '
                f'{l2b.shape[1] - 1} classes but {MAPPING_KEY}.num_classes='
                f'{num_classes}; use statistics/files of this model\'s '
                'training set (num_classes must equal model.roi_head.'
                'bbox_head.num_classes)')
        if self.class_names is not None and \
                len(self.class_names) != l2b.shape[1] - 1:
            raise ValueError(
                f'GroupSoftmaxLabelMapping: {len(self.class_names)} class '
                f'names for {l2b.shape[1] - 1} classes')
        self._set_tables(l2b, pred_slice, ranges)

    # ----------------------------------------------------------- building
    @staticmethod
    def _check_edges(bin_edges) -> Tuple[float, ...]:
        try:
            edges = tuple(float(e) for e in bin_edges)
        except (TypeError, ValueError):
            raise ValueError(
                f'GroupSoftmaxLabelMapping: bin_edges must be a list of '
                f'numbers, got {bin_edges!r}') from None
        if not edges or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(
                f'GroupSoftmaxLabelMapping: bin_edges must be a non-empty, '
                f'strictly increasing list (e.g. {list(DEFAULT_BIN_EDGES)}), '
                f'got {list(bin_edges)}')
        return edges

    @staticmethod
    def _load_counts(instance_counts, ann_file, stats_file):
        if instance_counts is not None:
            counts = np.asarray(instance_counts).reshape(-1)
            if counts.size == 0 or not np.issubdtype(counts.dtype,
                                                     np.number) or \
                    (counts < 0).any() or (counts != np.round(counts)).any():
                raise ValueError(
                    f'GroupSoftmaxLabelMapping: {MAPPING_KEY}.'
                    'instance_counts must be a non-empty list of '
                    'non-negative integers (instances per class, label '
                    'order)')
            return counts.astype(np.int64), None, 'instance_counts'
        if not ann_file and not stats_file:
            raise ValueError(
                'GroupSoftmaxLabelMapping needs the training instance counts: '
                f'set {MAPPING_KEY}.ann_file (training annotation json), '
                '.stats_file (tools/misc/class_stats.py), .instance_counts '
                '(a list) or .mapping_file (tools/misc/bags_mapping.py)')
        from mmlt.datasets.class_stats import get_class_stats_for
        stats = get_class_stats_for('GroupSoftmaxLabelMapping', MAPPING_KEY,
                                    ann_file, stats_file,
                                    'pass instance_counts / mapping_file')
        src = f"{'stats_file' if stats_file else 'ann_file'} " \
              f'{stats_file or ann_file}'
        return stats.instance_count.copy(), list(stats.names), src

    @staticmethod
    def _build(counts: np.ndarray, edges: Tuple[float, ...]):
        c = len(counts)
        bins = np.array([bisect.bisect_right(edges, n) for n in counts],
                        dtype=np.int64)
        kept = [b for b in range(len(edges) + 1) if (bins == b).any()]
        dropped = [b for b in range(len(edges) + 1) if b not in kept]
        bounds = (0., ) + edges + (None, )
        if dropped:
            names = ', '.join(
                _range_name(bounds[b], bounds[b + 1]) for b in dropped)
            print_log(
                f'GroupSoftmaxLabelMapping: no class has an instance count '
                f'in {names}; dropping the empty bin(s)',
                logger='current')
        num_groups = len(kept) + 1
        l2b = torch.zeros(num_groups, c + 1, dtype=torch.long)
        # group 0: every foreground label is "others" (= fg), bg is 1
        l2b[0, c] = 1
        sizes = [2]
        ranges: List[Optional[Tuple]] = [None]
        for g, b in enumerate(kept, start=1):
            members = np.flatnonzero(bins == b)
            l2b[g, torch.from_numpy(members)] = torch.arange(
                1, len(members) + 1)
            sizes.append(len(members) + 1)
            ranges.append((bounds[b], bounds[b + 1]))
        lengths = torch.tensor(sizes, dtype=torch.long)
        starts = torch.cumsum(lengths, 0) - lengths
        return l2b, torch.stack([starts, lengths], 1), ranges

    # ------------------------------------------------------------ files
    @staticmethod
    def _resolve_files(mapping_file, pred_slice_file):
        path = os.fspath(mapping_file)
        folder = path if osp.isdir(path) else osp.dirname(path)
        l2b_path = osp.join(path, LABEL2BINLABEL_FILE) if osp.isdir(path) \
            else path
        ps_path = os.fspath(pred_slice_file) if pred_slice_file else \
            osp.join(folder, PRED_SLICE_FILE)
        for key, p in (('mapping_file', l2b_path),
                       ('pred_slice_file', ps_path)):
            if not osp.isfile(p):
                raise FileNotFoundError(
                    f'GroupSoftmaxLabelMapping: {MAPPING_KEY}.{key} -> {p} '
                    'does not exist; write the files with tools/misc/'
                    'bags_mapping.py --ann-file TRAIN_JSON --out-dir DIR and '
                    'set mapping_file=DIR')
        return l2b_path, ps_path, folder

    @classmethod
    def _load_files(cls, mapping_file, pred_slice_file, convention):
        if convention not in ('mmdet', 'original'):
            raise ValueError(
                f"GroupSoftmaxLabelMapping: file_label_convention must be "
                f"'mmdet' or 'original', got {convention!r}")
        l2b_path, ps_path, folder = cls._resolve_files(mapping_file,
                                                       pred_slice_file)
        l2b = cls._load_tensor(l2b_path, 2)
        pred_slice = cls._load_tensor(ps_path, 2)
        if convention == 'original':
            # old labels: 0 = bg, l = class l-1 -> move column 0 last
            l2b = torch.cat([l2b[:, 1:], l2b[:, :1]], 1)
        cls._validate(l2b, pred_slice, l2b_path, ps_path)
        ranges: List[Optional[Tuple]] = [None] + [(None, None)] * (
            l2b.shape[0] - 1)
        meta = osp.join(folder, JSON_FILE)
        if convention == 'mmdet' and osp.isfile(meta):
            try:
                with open(meta) as f:
                    info = json.load(f)
                saved = [g.get('range') for g in info['groups']]
                if len(saved) == len(ranges):
                    ranges = [None if r is None else tuple(r) for r in saved]
            except (OSError, ValueError, KeyError, TypeError):
                pass  # the json is informational only
        return l2b, pred_slice, ranges, f'mapping_file {l2b_path}'

    @staticmethod
    def _load_tensor(path: str, dim: int) -> Tensor:
        try:
            t = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:
            raise ValueError(
                f'GroupSoftmaxLabelMapping: cannot read {path} as a torch '
                f'tensor file ({e}); regenerate it with tools/misc/'
                'bags_mapping.py') from e
        if not isinstance(t, Tensor) or t.dim() != dim or \
                t.dtype.is_floating_point or t.dtype == torch.bool:
            raise ValueError(
                f'GroupSoftmaxLabelMapping: {path} must hold a {dim}-D '
                f'integer tensor, got {type(t).__name__} '
                f'{getattr(t, "shape", "")}; regenerate it with tools/misc/'
                'bags_mapping.py')
        return t.long()

    @staticmethod
    def _validate(l2b: Tensor, pred_slice: Tensor, l2b_path: str,
                  ps_path: str) -> None:
        """Check a loaded mapping describes a valid group layout."""

        def fail(msg):
            raise ValueError(
                f'GroupSoftmaxLabelMapping: {msg}. Regenerate the files with '
                'tools/misc/bags_mapping.py (files of the original BAGS code '
                "need file_label_convention='original')")

        g, width = l2b.shape
        c = width - 1
        if g < 2 or c < 1:
            fail(f'{l2b_path} has shape {tuple(l2b.shape)}; expected '
                 '[groups incl. background (>= 2), num_classes + 1]')
        if tuple(pred_slice.shape) != (g, 2):
            fail(f'{ps_path} has shape {tuple(pred_slice.shape)} but '
                 f'{l2b_path} has {g} groups; expected [{g}, 2]')
        row0 = l2b[0]
        if sorted(set(row0.tolist())) != [0, 1] or \
                (row0[:c] != row0[0]).any() or row0[c] == row0[0]:
            fail(f'row 0 of {l2b_path} must be the background group: one '
                 'in-group label (0 or 1) for every foreground class and '
                 'the other for the background column')
        if (l2b[1:, c] != 0).any():
            fail(f'{l2b_path}: the background column must be "others" (0) '
                 'in every foreground group')
        member = l2b[1:, :c] > 0
        per_class = member.sum(0)
        if (per_class != 1).any():
            bad = torch.nonzero(per_class != 1).flatten()[:5].tolist()
            fail(f'{l2b_path}: every foreground class must belong to exactly '
                 f'one foreground group (classes {bad} do not)')
        lengths = [2]
        for k in range(1, g):
            pos = l2b[k][l2b[k] > 0]
            if sorted(pos.tolist()) != list(range(1, len(pos) + 1)):
                fail(f'{l2b_path}: row {k} must number its members 1..n')
            lengths.append(len(pos) + 1)
        lengths = torch.tensor(lengths)
        starts = torch.cumsum(lengths, 0) - lengths
        if not torch.equal(pred_slice, torch.stack([starts, lengths], 1)):
            fail(f'{ps_path} = {pred_slice.tolist()} does not match the '
                 f'groups of {l2b_path} (expected contiguous slices '
                 f'{torch.stack([starts, lengths], 1).tolist()})')

    # ------------------------------------------------------------ tables
    def _set_tables(self, l2b: Tensor, pred_slice: Tensor,
                    ranges: List[Optional[Tuple]]) -> None:
        g, width = l2b.shape
        c = width - 1
        self.num_classes = c
        self.num_groups = g
        self.num_channels = int(pred_slice[:, 1].sum())
        assert self.num_channels == c + 1 + g
        self.group_ranges = ranges
        self.group_names = ['background'] + [
            f'group{k}' if r is None or r[0] is None else _range_name(*r)
            for k, r in enumerate(ranges[1:], start=1)
        ]
        class_group = torch.zeros(width, dtype=torch.long)
        class_group[:c] = torch.argmax((l2b[1:, :c] > 0).long(), 0) + 1
        class_position = l2b.gather(0, class_group[None]).squeeze(0)
        label_channel = pred_slice[class_group, 0] + class_position
        self.fg_channel = int(pred_slice[0, 0] + l2b[0, 0])
        self.group_sizes = [int(x) - 1 for x in pred_slice[:, 1]]
        self.slice_lengths = [int(x) for x in pred_slice[:, 1]]
        buffers = dict(
            label2binlabel=l2b,
            pred_slice=pred_slice,
            class_group=class_group,
            class_position=class_position,
            label_channel=label_channel,
            # absolute logit of each label in each group: [G, C+1]
            target_channel=pred_slice[:, :1] + l2b,
            # label is a member (not "others") of group g: fg groups by
            # in-group label > 0, group 0 has the background as member
            member=torch.cat(
                [l2b[:1] == l2b[0, c], l2b[1:] > 0]))
        for name, t in buffers.items():
            self.register_buffer(name, t.contiguous(), persistent=False)
        print_log(
            f'GroupSoftmaxLabelMapping ({self.source}): {c} classes, '
            f'{g} groups (sizes {self.group_sizes}: '
            f'{", ".join(self.group_names)}), {self.num_channels} logits',
            logger='current')

    def members(self, group: int) -> Tensor:
        """Labels of group ``group`` in in-group order (group 0: [C])."""
        row = self.label2binlabel[group]
        if group == 0:
            return torch.tensor([self.num_classes])
        idx = torch.nonzero(row > 0).flatten()
        return idx[torch.argsort(row[idx])].cpu()

    # ------------------------------------------------ vectorised helpers
    def split(self, cls_score: Tensor) -> Tuple[Tensor, ...]:
        """Views of the G group slices of [N, K] logits."""
        self._check_width(cls_score)
        return torch.split(cls_score, self.slice_lengths, dim=-1)

    def targets(self, labels: Tensor) -> Tuple[Tensor, Tensor]:
        """(target, member), both [N, G]: the absolute logit index of each
        RoI's in-group label in every group, and whether the RoI's label is
        a member of the group (not "others")."""
        labels = labels.long()
        return (self.target_channel[:, labels].t(),
                self.member[:, labels].t())

    def group_softmax(self, cls_score: Tensor) -> Tensor:
        """[N, K] probabilities: softmax within every group slice."""
        return torch.cat([s.softmax(-1) for s in self.split(cls_score)], -1)

    def merge_scores(self, cls_score: Tensor) -> Tensor:
        r"""[N, C+1] class scores from [N, K] logits (the original's
        ``_merge_score``):

        .. math::
            s_c = p^{(0)}_{fg}\, p^{(g(c))}_c \ (c < C), \qquad
            s_C = p^{(0)}_{bg}

        with :math:`p^{(g)}` the softmax over group g's slice.
        """
        self._check_width(cls_score)
        if cls_score.dim() != 2:
            raise ValueError('merge_scores expects [N, K] logits, got shape '
                             f'{tuple(cls_score.shape)}')
        prob = self.group_softmax(cls_score)
        # reorder to label order (bg last), then scale the classes by P(fg);
        # the gather output is a new tensor, so the in-place scaling is safe
        merged = prob.index_select(1, self.label_channel)
        merged[:, :self.num_classes].mul_(
            prob[:, self.fg_channel:self.fg_channel + 1])
        return merged

    def group_logsumexp(self, cls_score: Tensor) -> Tensor:
        """[N, G]: logsumexp of every group slice of [N, K] logits."""
        return torch.stack([s.logsumexp(-1) for s in self.split(cls_score)],
                           -1)

    def _check_width(self, cls_score: Tensor) -> None:
        if cls_score.shape[-1] != self.num_channels:
            raise ValueError(
                f'GroupSoftmaxLabelMapping: expected {self.num_channels} '
                f'logits (C + 1 + groups = {self.num_classes} + 1 + '
                f'{self.num_groups}), got {cls_score.shape[-1]}; build the '
                'classifier through a head that honours loss_cls.'
                'get_cls_channels (mmdet BBoxHead does)')

    # ------------------------------------------------------------- output
    def summary(self) -> dict:
        """json-able description: groups, ranges, sizes, slices, classes."""
        groups = []
        for g in range(self.num_groups):
            labels = self.members(g).tolist()
            start, length = self.pred_slice[g].tolist()
            entry = dict(
                index=g,
                name=self.group_names[g],
                range=None if self.group_ranges[g] is None else list(
                    self.group_ranges[g]),
                size=self.group_sizes[g],
                slice=[start, length],
                others_channel=start if g else self.fg_channel)
            if g:
                cls = []
                for pos, lab in enumerate(labels, start=1):
                    item = dict(label=lab, in_group=pos, channel=start + pos)
                    if self.class_names is not None:
                        item['name'] = self.class_names[lab]
                    if self.instance_counts is not None:
                        item['instance_count'] = int(
                            self.instance_counts[lab])
                    cls.append(item)
                entry['classes'] = cls
            else:
                entry['channels'] = dict(
                    fg=self.fg_channel,
                    bg=int(self.label_channel[self.num_classes]))
            groups.append(entry)
        return dict(
            format='mmlt.GroupSoftmaxLabelMapping',
            version=1,
            source=self.source,
            num_classes=self.num_classes,
            num_groups=self.num_groups,
            num_channels=self.num_channels,
            bin_edges=list(self.bin_edges),
            label_convention='mmdet: labels 0..C-1 foreground, C background',
            layout='per group [others, members...]; group 0 = [fg, bg]',
            groups=groups)

    def save(self, out_dir: str) -> List[str]:
        """Write ``label2binlabel.pt``, ``pred_slice.pt`` and a readable
        ``bags_mapping.json`` into ``out_dir``; returns the paths."""
        os.makedirs(out_dir, exist_ok=True)
        paths = [
            osp.join(out_dir, n)
            for n in (LABEL2BINLABEL_FILE, PRED_SLICE_FILE, JSON_FILE)
        ]
        torch.save(self.label2binlabel.cpu().clone(), paths[0])
        torch.save(self.pred_slice.cpu().clone(), paths[1])
        with open(paths[2], 'w') as f:
            json.dump(self.summary(), f, indent=1)
        return paths

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, num_groups='
                f'{self.num_groups}, sizes={self.group_sizes}, '
                f'num_channels={self.num_channels}')
