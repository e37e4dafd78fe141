"""LVIS metric with APr/APc/APf, per-class AP and plots, on numpy 2."""
import itertools
import json
import logging
import math
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmdet.evaluation.metrics import LVISMetric
from mmdet.registry import METRICS
from mmengine.fileio import load
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable, GithubFlavoredMarkdownTable

from ..fast_lvis_eval import (INSTALL_HINT, faster_coco_eval_available,
                              run_fast_lvis_eval)
from ..lvis_eval import (check_lvis_gt, per_class_ap, run_lvis_eval,
                         summary_keys)
from ..validate import CheckedResults, check_policy, validate_preds

__all__ = ['LongTailLVISMetric', 'format_table']

PROPOSAL_KEYS = ('AR', 'ARs', 'ARm', 'ARl')


def _fmt_value(v: Optional[float], scale: float = 100.) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v < 0:
        return 'n/a'
    return f'{v * scale:.1f}'


def format_table(data: List[List[str]], table_format: str = 'ascii') -> str:
    """Render ``data`` (header row first) as an ascii or markdown table."""
    if table_format == 'markdown':
        return GithubFlavoredMarkdownTable(data).table
    return AsciiTable(data).table


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between xyxy boxes ``a`` (n, 4) and ``b`` (m, 4)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, np.finfo(np.float64).eps)


def compute_with_outfile(metric, results: list) -> Dict[str, float]:
    """``metric._compute(results, outfile_prefix)`` with the metric's
    ``outfile_prefix``, or a temporary one removed afterwards (mmdet's
    COCO/LVIS metrics write result jsons before evaluating them)."""
    if metric.outfile_prefix is not None:
        return metric._compute(results, metric.outfile_prefix)
    with tempfile.TemporaryDirectory() as tmp_dir:
        return metric._compute(results, osp.join(tmp_dir, 'results'))


@METRICS.register_module()
class LongTailLVISMetric(LVISMetric):
    """LVIS evaluation as reported by long-tail papers (BAGS, EQL, ...).

    Runs LVIS evaluation (``backend``: faster-coco-eval or mmlt's
    numpy-2-safe lvis-api, same numbers) against ``ann_file`` (the
    original LVIS json: LVIS evaluation needs its ``neg_category_ids``,
    ``not_exhaustive_category_ids`` and ``frequency`` fields), logs

    ``{iou}_AP, _AP50, _AP75, _APs, _APm, _APl, _APr, _APc, _APf,
    _AR@300, _ARs@300, _ARm@300, _ARl@300`` (``@{max_dets}``)

    for every iou type in ``metric`` (prefixed ``lvis/`` by mmengine) as
    floats in [0, 1] without rounding (-1: no GT in that range, lvis-api's
    convention), prints them as one table (x100, one decimal) and, when an
    output folder is known, writes per-class AP (json) and a per-class AP vs
    training instance count plot per iou type.  Predicted labels map to
    category ids through ``dataset_meta['classes']`` names when they name
    ``ann_file``'s categories, else label ``i`` is the ``i``-th smallest id.

    Args:
        ann_file (str): original LVIS GT json. Required.
        metric (str | list[str]): 'bbox', 'segm', 'proposal' (class-agnostic
            AR@N for N in ``proposal_nums``, lvis-api matching; keys
            ``proposal_AR@N``, ``proposal_AR{s,m,l}@N``) and/or
            'proposal_fast' (mmdet-style greedy box recall averaged over
            ``iou_thrs``; keys ``proposal_fast_AR@N``).
        classwise (bool): also log a per-class table (name, group, training
            instances, AP).
        proposal_nums (Sequence[int]): N for the proposal metrics.
        iou_thrs (float | Sequence[float], optional): IoU thresholds of
            'proposal_fast'. Defaults to 0.5:0.95.
        metric_items (Sequence[str], optional): subset of the summary names
            (e.g. ``['AP', 'APr']``) to log for bbox/segm. Defaults to all.
        format_only (bool): only dump results json (``outfile_prefix``).
        outfile_prefix (str, optional): prefix of the results json files.
        max_dets (int): max detections per image. Defaults to 300 (LVIS).
        table_format (str): 'ascii' or 'markdown'.
        output_dir (str, optional): folder for ``per_class_ap.json`` and
            ``per_class_ap_{iou}.png``. None: the folder of the current
            MMLogger's log file (``work_dir/<timestamp>``) if it has one,
            else no files are written.
        per_class_file (str, optional): path of the per-class json, which
            overrides ``{output_dir}/per_class_ap.json``.
        train_ann_file (str, optional): training json for the per-class
            training instance counts (``mmlt.datasets.class_stats``).
        stats_file (str, optional): cached class statistics for the same.
            With neither, the counts come from ``ann_file``'s category table
            (LVIS val jsons carry the train counts there).
        save_plots (bool): write the per-class AP plots. Defaults to True.
        backend (str): 'fast' (faster-coco-eval's C++ LVIS mode through
            :func:`mmlt.evaluation.fast_lvis_eval.run_fast_lvis_eval`; equal
            to lvis-api in every summary value and per-class AP, several
            times faster) or 'lvis' (mmlt's lvis-api wrapper, the
            reference). Defaults to 'fast'. Class-agnostic 'proposal'
            always uses lvis-api.
        only_processed_imgs (bool): evaluate only the images that were
            processed instead of all images of ``ann_file`` (for quick runs
            on a subset; not the official protocol). Defaults to False.
        invalid_detections (str): what to do with detections whose score
            or box is NaN/inf, whose box has x2 < x1 or y2 < y1, whose
            image id is not in ``ann_file`` or label is outside the
            classes, or whose mask is not of its image's size (mmlt's check,
            :mod:`mmlt.evaluation.validate`, before both backends and
            before ``format_only`` writes them). 'error' (default): raise
            an ``InvalidDetectionsError`` naming how many of which images
            and the likely cause (a diverged model); 'drop': evaluate the
            others and log the count. Zero-area boxes are valid.
        collect_device, prefix, file_client_args, backend_args: as in
            :class:`mmdet.evaluation.LVISMetric`.
    """

    default_prefix: Optional[str] = 'lvis'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = 'bbox',
                 classwise: bool = False,
                 proposal_nums: Sequence[int] = (100, 300, 1000),
                 iou_thrs: Optional[Union[float, Sequence[float]]] = None,
                 metric_items: Optional[Sequence[str]] = None,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 max_dets: int = 300,
                 table_format: str = 'ascii',
                 output_dir: Optional[str] = None,
                 per_class_file: Optional[str] = None,
                 train_ann_file: Optional[str] = None,
                 stats_file: Optional[str] = None,
                 save_plots: bool = True,
                 only_processed_imgs: bool = False,
                 backend: str = 'fast',
                 invalid_detections: str = 'error',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 file_client_args: dict = None,
                 backend_args: dict = None) -> None:
        if ann_file is None:
            raise ValueError(
                'LongTailLVISMetric needs `ann_file`: the original LVIS '
                'annotation json (e.g. lvis_v1_val.json). A GT json rebuilt '
                'from the dataset lacks the fields LVIS evaluation needs.')
        if backend not in ('fast', 'lvis'):
            raise ValueError("backend must be 'fast' or 'lvis', got "
                             f'{backend!r}.')
        if backend == 'fast' and not faster_coco_eval_available():
            raise ImportError(
                "LongTailLVISMetric(backend='fast') needs faster-coco-eval. "
                + INSTALL_HINT)
        if table_format not in ('ascii', 'markdown'):
            raise ValueError("table_format must be 'ascii' or 'markdown', "
                             f'got {table_format!r}.')
        self.invalid_detections = check_policy(
            invalid_detections, 'LongTailLVISMetric: invalid_detections')
        super().__init__(
            ann_file=ann_file,
            metric=metric,
            classwise=classwise,
            proposal_nums=proposal_nums,
            iou_thrs=iou_thrs,
            metric_items=metric_items,
            format_only=format_only,
            outfile_prefix=outfile_prefix,
            collect_device=collect_device,
            prefix=prefix,
            file_client_args=file_client_args,
            backend_args=backend_args)
        self.ann_file = ann_file
        self.max_dets = max_dets
        self.keys = summary_keys(max_dets)
        if metric_items is not None:
            unknown = set(metric_items) - set(self.keys)
            if unknown:
                raise KeyError(f'Unknown metric_items {sorted(unknown)}; '
                               f'choose from {list(self.keys)}.')
        self.table_format = table_format
        self.output_dir = output_dir
        self.per_class_file = per_class_file
        self.train_ann_file = train_ann_file
        self.stats_file = stats_file
        self.save_plots = save_plots
        self.only_processed_imgs = only_processed_imgs
        self.backend = backend
        self._train_counts = None
        # The last rendered tables, for tools and tests.
        self.summary_table: Optional[str] = None
        self.classwise_tables: Dict[str, str] = {}
        if not format_only:
            # fail at build time, not after hours of inference
            check_lvis_gt(self._lvis_api, ann_file)

    # ------------------------------------------------------------------ #
    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Evaluate the collected ``(gt, pred)`` pairs (rank 0 only)."""
        return compute_with_outfile(self, results)

    def _compute(self, results: list, outfile_prefix: str) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results) if results else ((), ())
        self.cat_ids = self._label_to_cat_id()
        if self.img_ids is None:
            self.img_ids = self._lvis_api.get_img_ids()

        if preds:
            preds = self._check_preds(preds)
            result_files = self.results2json(preds, outfile_prefix)
        else:
            result_files = {}
            print_log(
                'No predictions to evaluate: every AP/AR is 0.',
                logger='current',
                level=logging.WARNING)
        eval_results = OrderedDict()
        if self.format_only:
            logger.info(f'results are saved in {osp.dirname(outfile_prefix)}')
            return eval_results

        img_ids = self.img_ids
        if self.only_processed_imgs:
            img_ids = sorted({int(g['img_id']) for g in gts})

        summaries = OrderedDict()
        per_class = OrderedDict()
        proposal_rows = OrderedDict()
        items = self.metric_items or self.keys
        for metric in self.metrics:
            logger.info(f'Evaluating {metric}...')
            if metric == 'proposal_fast':
                ar = self._fast_recall(preds, img_ids)
                for num, value in zip(self.proposal_nums, ar):
                    eval_results[f'proposal_fast_AR@{num}'] = float(value)
                    proposal_rows.setdefault(f'AR@{num}', {})[metric] = value
                continue
            dets = self._load_dets(result_files, metric)
            if metric == 'proposal':
                for num in self.proposal_nums:
                    stats, _ = run_lvis_eval(
                        self._lvis_api,
                        dets,
                        'bbox',
                        max_dets=num,
                        img_ids=img_ids,
                        use_cats=False,
                        check_gt=False)
                    for k in PROPOSAL_KEYS:
                        key = f'{k}@{num}'
                        eval_results[f'proposal_{key}'] = stats[key]
                        proposal_rows.setdefault(key, {})[metric] = stats[key]
                continue
            run_eval = (
                run_fast_lvis_eval if self.backend == 'fast' else
                run_lvis_eval)
            stats, lvis_eval = run_eval(
                self._lvis_api,
                dets,
                metric,
                max_dets=self.max_dets,
                img_ids=img_ids,
                check_gt=False)
            summaries[metric] = stats
            for k in self.keys:
                if k in items:
                    eval_results[f'{metric}_{k}'] = stats[k]
            per_class[metric] = self._per_class_records(
                per_class_ap(lvis_eval))

        self._log_tables(summaries, proposal_rows, per_class)
        self._write_files(summaries, per_class)
        return eval_results

    # ------------------------------------------------------------------ #
    def _label_to_cat_id(self) -> List[int]:
        """Category id of every predicted label.

        By class name when ``dataset_meta['classes']`` names categories of
        ``ann_file`` (right for any dataset class), else label ``i`` is the
        ``i``-th smallest category id (mmlt's LongTailLVISDataset; mmdet's
        LVIS datasets use the json order, the same for LVIS jsons).
        """
        sorted_ids = sorted(self._lvis_api.get_cat_ids())
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            return sorted_ids
        ids_of_name: Dict[str, list] = {}
        for cat in self._lvis_api.cats.values():
            ids_of_name.setdefault(cat.get('name'), []).append(cat['id'])
        if all(len(ids_of_name.get(n, ())) == 1 for n in classes):
            return [ids_of_name[n][0] for n in classes]
        if len(classes) != len(sorted_ids):
            raise ValueError(
                f'The dataset has {len(classes)} classes whose names do not '
                f'all match the {len(sorted_ids)} categories of '
                f'{self.ann_file}; cannot map labels to category ids.')
        print_log(
            'Dataset class names do not match the categories of '
            f'{self.ann_file}; assuming label i is the i-th smallest '
            'category id.',
            logger='current',
            level=logging.WARNING)
        return sorted_ids

    def _check_preds(self, preds: Sequence[dict]) -> List[dict]:
        """Invalid detections -> error, or dropped with a logged count."""
        sizes = {
            img_id: (img['height'], img['width'])
            for img_id, img in self._lvis_api.imgs.items()
            if 'height' in img and 'width' in img
        }
        return validate_preds(
            preds,
            self.invalid_detections,
            source=f'{type(self).__name__} predictions (against '
            f'{self.ann_file})',
            option="invalid_detections='drop' on the metric (e.g. "
            '--cfg-options test_evaluator.invalid_detections=drop)',
            num_classes=len(self.cat_ids),
            img_ids=self._lvis_api.imgs,
            img_sizes=sizes)

    def _load_dets(self, result_files: dict, metric: str) -> List[dict]:
        if not result_files:
            return []
        if metric not in result_files:
            raise KeyError(
                f"metric '{metric}' was requested but the predictions have "
                f'no {metric} results (e.g. no `masks` in pred_instances).')
        # checked by _check_preds against the same GT: not again
        return CheckedResults(load(result_files[metric]))

    def _fast_recall(self, preds: Sequence[dict],
                     img_ids: Sequence[int]) -> np.ndarray:
        """Greedy box recall of the top-N boxes, averaged over iou_thrs.

        mmdet's ``eval_recalls`` builds a ragged numpy array (fails on
        numpy >= 1.24) and pairs predictions with images by position; this
        pairs them by ``img_id``.
        """
        thrs = np.atleast_1d(np.asarray(self.iou_thrs, dtype=np.float64))
        by_id = {int(p['img_id']): p for p in preds}
        best = [[] for _ in self.proposal_nums]
        for img_id in img_ids:
            anns = self._lvis_api.load_anns(
                self._lvis_api.get_ann_ids(img_ids=[img_id]))
            if not anns:
                continue
            gt = np.array([[x, y, x + w, y + h]
                           for x, y, w, h in (a['bbox'] for a in anns)],
                          dtype=np.float64)
            pred = by_id.get(int(img_id))
            if pred is None or len(pred['bboxes']) == 0:
                boxes = np.zeros((0, 4))
            else:
                order = np.argsort(-np.asarray(pred['scores']), kind='stable')
                boxes = np.asarray(pred['bboxes'], np.float64)[order]
            for n_idx, num in enumerate(self.proposal_nums):
                ious = _box_iou(gt, boxes[:num])
                matched = np.zeros(len(gt))
                # repeatedly take the globally best (gt, box) pair
                for _ in range(min(ious.shape)):
                    g, b = np.unravel_index(np.argmax(ious), ious.shape)
                    matched[g] = max(ious[g, b], 0)
                    ious[g, :] = -1
                    ious[:, b] = -1
                best[n_idx].append(matched)
        best = [np.concatenate(b) if b else np.zeros(0) for b in best]
        if not best or best[0].size == 0:
            return np.zeros(len(self.proposal_nums))
        return np.array([(b[:, None] >= thrs[None]).mean(axis=0).mean()
                         for b in best])

    def _get_train_counts(self) -> Dict[int, Optional[int]]:
        if self._train_counts is not None:
            return self._train_counts
        if self.train_ann_file is None and self.stats_file is None:
            self._train_counts = {
                int(cat_id): cat.get('instance_count')
                for cat_id, cat in self._lvis_api.cats.items()
            }
            return self._train_counts
        try:
            from mmlt.datasets.class_stats import get_class_stats
        except ImportError as e:
            raise ImportError(
                '`train_ann_file`/`stats_file` need '
                'mmlt.datasets.class_stats.get_class_stats') from e
        stats = get_class_stats(
            ann_file=self.train_ann_file, stats_file=self.stats_file)
        self._train_counts = {
            int(c): int(n)
            for c, n in zip(stats.cat_ids, stats.instance_count)
        }
        return self._train_counts

    def _per_class_records(self, aps: Dict[int, float]) -> List[dict]:
        counts = self._get_train_counts()
        records = []
        for cat_id, ap in aps.items():
            cat = self._lvis_api.cats[cat_id]
            records.append(
                dict(
                    cat_id=int(cat_id),
                    name=cat.get('name', str(cat_id)),
                    # the GT json's group, which is what APr/APc/APf use
                    frequency=cat.get('frequency'),
                    train_instance_count=counts.get(int(cat_id)),
                    # json has no NaN: classes without GT get null
                    ap=None if math.isnan(ap) else ap))
        return records

    def _log_tables(self, summaries: dict, proposal_rows: dict,
                    per_class: dict) -> None:
        fmt = self.table_format
        if summaries:
            data = [['LVIS (x100)'] + list(summaries)]
            data += [[k] + [_fmt_value(s[k]) for s in summaries.values()]
                     for k in self.keys]
            self.summary_table = format_table(data, fmt)
            print_log(
                f'LVIS evaluation against {self.ann_file} (maxDets='
                f'{self.max_dets}, x100, n/a: no GT):\n' + self.summary_table,
                logger='current')
        if proposal_rows:
            cols = [m for m in self.metrics if m.startswith('proposal')]
            data = [['recall (x100)'] + cols]
            data += [[k] + [_fmt_value(v.get(c)) for c in cols]
                     for k, v in proposal_rows.items()]
            print_log(
                'Proposal recall:\n' + format_table(data, fmt),
                logger='current')
        if not self.classwise:
            return
        for iou, records in per_class.items():
            cells = [(r['name'], r['frequency'] or '-',
                      '-' if r['train_instance_count'] is None else str(
                          r['train_instance_count']), _fmt_value(r['ap']))
                     for r in records]
            per_row = 2 if len(cells) > 1 else 1
            header = ['category', 'group', '#train', 'AP'] * per_row
            flat = list(itertools.chain(*cells))
            width = 4 * per_row
            rows = [flat[i:i + width] for i in range(0, len(flat), width)]
            rows[-1] += [''] * (width - len(rows[-1]))
            table = format_table([header] + rows, fmt)
            self.classwise_tables[iou] = table
            print_log(
                f'Per-class {iou} AP (x100):\n' + table, logger='current')

    def _resolve_output_dir(self) -> Optional[str]:
        if self.output_dir is not None:
            return self.output_dir
        log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
        return osp.dirname(osp.abspath(log_file)) if log_file else None

    def _write_files(self, summaries: dict, per_class: dict) -> None:
        if not per_class:
            return
        out_dir = self._resolve_output_dir()
        json_file = self.per_class_file or (
            osp.join(out_dir, 'per_class_ap.json') if out_dir else None)
        if json_file:
            if osp.dirname(json_file):
                os.makedirs(osp.dirname(json_file), exist_ok=True)
            with open(json_file, 'w') as f:
                json.dump(per_class, f, indent=1)
            print_log(f'Per-class AP saved to {json_file}', logger='current')
        if not (out_dir and self.save_plots):
            return
        from ..plots import plot_per_class_ap
        for iou, records in per_class.items():
            s = summaries[iou]
            title = (f'{iou}: AP {_fmt_value(s["AP"])} | APr '
                     f'{_fmt_value(s["APr"])} | APc {_fmt_value(s["APc"])} | '
                     f'APf {_fmt_value(s["APf"])}')
            png = plot_per_class_ap(
                [r['train_instance_count'] for r in records],
                [r['ap'] for r in records],
                [r['frequency'] for r in records],
                osp.join(out_dir, f'per_class_ap_{iou}.png'),
                title=title)
            print_log(f'Per-class AP plot saved to {png}', logger='current')
