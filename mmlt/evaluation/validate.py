"""Checks of detections before evaluation: no silent wrong numbers.

A diverged model (NaN/inf loss) outputs NaN/inf scores and boxes.  The
evaluators do not reject them: lvis-api sorts NaN scores somewhere and
reports an AP (1.0 on an all-NaN set in a test), pycocotools likewise, and
boxes with NaN or ``x2 < x1`` match nothing or get negative areas.  Every
mmlt evaluation entry point therefore runs these checks first, with one
policy (``invalid_detections``):

* ``'error'`` (default): raise :class:`InvalidDetectionsError` naming how
  many detections of how many images are invalid, for which reasons, a few
  examples, the likely cause and the option below;
* ``'drop'``: evaluate the valid detections only and log how many were
  dropped (the result equals evaluating the valid subset alone).

A detection is invalid when its score or box is not finite, its box has
``x2 < x1`` or ``y2 < y1`` (xyxy) or a negative width/height (xywh json
results), its image id or category id (label) is not in the GT, or its
mask is malformed or not of its image's size.  Zero-area boxes are valid.

Two input formats: COCO/LVIS json results (a list of dicts with
``image_id``, ``category_id``, ``score``, ``bbox`` xywh and/or
``segmentation``; :func:`find_invalid_results`) and mmdet's per-image
prediction dicts of ``CocoMetric.process`` (``img_id``, ``bboxes`` xyxy,
``scores``, ``labels``, optional ``masks``/``mask_scores``;
:func:`find_invalid_preds`).  Malformed input (a missing key, a box
that is not 4 numbers) is a format error, raised whatever the policy.
"""
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import (Any, Container, Dict, List, Mapping, Optional, Sequence,
                    Tuple)

import numpy as np
from mmengine.logging import print_log

__all__ = [
    'INVALID_POLICIES', 'InvalidDetectionsError', 'InvalidDetections',
    'CheckedResults',
    'check_policy', 'find_invalid_results', 'find_invalid_preds',
    'apply_policy', 'validate_results', 'validate_preds', 'validate_scores'
]

INVALID_POLICIES = ('error', 'drop')
_COUNTS = {str, bytes, list}

# reason keys, in report order
NONFINITE_SCORE = 'non-finite score'
NONFINITE_BOX = 'non-finite box'
BAD_XYXY = 'box with x2 < x1 or y2 < y1'
BAD_XYWH = 'box with negative width or height'
UNKNOWN_IMAGE = 'image id not in the GT annotation file'
UNKNOWN_CAT = 'category id not in the GT annotation file'
BAD_LABEL = 'label outside [0, num_classes)'
BAD_MASK = 'malformed mask'
MASK_SIZE = "mask size differs from its image's"

_CAUSES = OrderedDict([
    ((NONFINITE_SCORE, NONFINITE_BOX),
     'non-finite scores or boxes usually mean that the model diverged (a '
     'NaN/inf loss): check the training log for nan/inf losses and the '
     'checkpoint that produced these detections'),
    ((BAD_XYXY, BAD_XYWH),
     'boxes with negative extent come from a diverged box regression or '
     'from boxes in the wrong format (json results are [x, y, w, h], '
     'mmdet predictions [x1, y1, x2, y2])'),
    ((UNKNOWN_IMAGE, ),
     'the results belong to another annotation file (another split or '
     'subset) than the GT'),
    ((UNKNOWN_CAT, BAD_LABEL),
     'the model was built with another class list or num_classes than the '
     'GT annotation file'),
    ((BAD_MASK, MASK_SIZE),
     'masks must be RLEs (or arrays) of the original image size: predict '
     'with rescale=True and encode with pycocotools'),
])


class InvalidDetectionsError(ValueError):
    """Detections with non-finite, negative-extent or unknown values."""


class CheckedResults(list):
    """A list of json results that an mmlt metric has already validated
    against the same GT: :func:`mmlt.evaluation.lvis_eval.
    prepare_lvis_results` does not check them again (seconds at LVIS
    scale)."""


def check_policy(policy: str, owner: str = 'invalid_detections') -> str:
    """Return ``policy`` if it is 'error' or 'drop', else raise."""
    if policy not in INVALID_POLICIES:
        raise ValueError(f"{owner} must be 'error' or 'drop', got "
                         f'{policy!r}')
    return policy


@dataclass
class InvalidDetections:
    """Result of a check.

    Attributes:
        invalid (np.ndarray): bool[N], one flag per detection.
        reasons (dict): reason -> number of detections with it (one
            detection may have several).
        image_ids (list): image id of every detection (len N), to name and
            count the affected images.
        num_images (int): images in the checked input.
        examples (list[str]): descriptions of the first invalid detections.
    """
    invalid: np.ndarray
    reasons: Dict[str, int]
    image_ids: Sequence[Any]
    num_images: int
    examples: List[str] = field(default_factory=list)

    @property
    def num_total(self) -> int:
        return int(self.invalid.size)

    @property
    def num_invalid(self) -> int:
        return int(np.count_nonzero(self.invalid))

    @property
    def bad_images(self) -> list:
        """Ids of the images with an invalid detection, first seen first."""
        idx = np.flatnonzero(self.invalid)
        return list(OrderedDict.fromkeys(self.image_ids[i] for i in idx))

    def summary(self) -> str:
        """'5 of 120 detections (in 2 of the 6 images with detections,
        e.g. image ids [1, 3])'"""
        imgs = self.bad_images
        return (f'{self.num_invalid} of {self.num_total} detections (in '
                f'{len(imgs)} of the {self.num_images} images with '
                f'detections, e.g. image ids '
                f'{imgs[:5]})')

    def message(self, source: str, option: str) -> str:
        """The error text: what, how many, examples, cause and the fix."""
        why = ', '.join(f'{n} {r}' for r, n in self.reasons.items() if n)
        causes = [
            text for keys, text in _CAUSES.items()
            if any(self.reasons.get(k) for k in keys)
        ]
        return (f'{source}: {self.summary()} are invalid ({why}); e.g. '
                + '; '.join(self.examples) + '. Likely cause: '
                + '; '.join(causes) + '. Refusing to evaluate them: the '
                'AP would be meaningless. To evaluate only the valid '
                f'detections, use {option} (the number dropped is logged).')


def _fmt_num(v) -> str:
    try:
        return f'{float(v):.4g}'
    except (TypeError, ValueError):
        return repr(v)


def _fmt_box(box) -> str:
    try:
        return '[' + ', '.join(_fmt_num(v) for v in box) + ']'
    except TypeError:
        return repr(box)


def _format_error(source: str, i: int, what: str, det: Any) -> ValueError:
    return ValueError(
        f'{source}: detection #{i} {what}: {str(det)[:200]}. Results must be '
        'COCO/LVIS results: dicts with image_id, category_id, score and '
        'bbox [x, y, w, h] and/or segmentation (RLE).')


def _column(dets: Sequence[dict], key: str, source: str,
            required: bool = True) -> list:
    try:  # the common case, at C speed
        return list(map(itemgetter(key), dets))
    except (KeyError, TypeError, IndexError):
        pass
    for i, d in enumerate(dets):
        if not isinstance(d, dict):
            raise _format_error(source, i, 'is not a dict', d)
        if key not in d and required:
            raise _format_error(source, i, f'has no {key!r}', d)
    return [d.get(key) for d in dets]


def _as_float(values: list, width: int, source: str, what: str,
              dets: Sequence[Any]) -> np.ndarray:
    """float64 array of ``values`` (None -> NaN), shape (N,) or (N, width)."""
    n = len(values)
    try:
        if width == 0:
            return np.fromiter(values, np.float64, n)
        if set(map(len, values)) == {width}:
            return np.fromiter(
                chain.from_iterable(values), np.float64,
                n * width).reshape(n, width)
    except (TypeError, ValueError):
        pass
    shape = (n, ) if width == 0 else (n, width)
    try:  # slower, and None -> NaN
        arr = np.array(values, dtype=np.float64)
        if arr.shape == shape:
            return arr
    except (TypeError, ValueError):
        pass
    for i, v in enumerate(values):  # find the culprit for the message
        try:
            a = np.array(v, dtype=np.float64)
        except (TypeError, ValueError):
            a = None
        if a is None or a.shape != shape[1:]:
            need = 'a number' if width == 0 else f'{width} numbers'
            raise _format_error(source, i, f'has a {what} that is not '
                                f'{need}', dets[i])
    raise _format_error(source, 0, f'has an unreadable {what}', dets[0])


def _box_flags(boxes: np.ndarray, fmt: str,
               reasons: Dict[str, np.ndarray]) -> None:
    finite = np.isfinite(boxes).all(axis=1)
    reasons[NONFINITE_BOX] = ~finite
    with np.errstate(invalid='ignore'):
        if fmt == 'xyxy':
            neg = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
            reasons[BAD_XYXY] = neg & finite
        else:
            neg = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
            reasons[BAD_XYWH] = neg & finite


def _rle_flags(segs: Sequence[Any], sizes: Optional[np.ndarray],
               reasons: Dict[str, np.ndarray]) -> None:
    """Malformed RLE/polygon, or RLE size != the image's (h, w).

    ``sizes``: float (N, 2) image (h, w) of every mask, NaN where unknown.
    """
    n = len(segs)
    bad = np.zeros(n, dtype=bool)
    seg_hw = None
    try:  # every one an RLE dict: vectorised (polygons raise TypeError)
        if set(map(type, map(itemgetter('counts'), segs))) <= _COUNTS:
            hw = list(map(itemgetter('size'), segs))
            if set(map(len, hw)) == {2}:
                seg_hw = np.fromiter(chain.from_iterable(hw), np.float64,
                                     2 * n).reshape(n, 2)
    except (KeyError, TypeError, ValueError):
        seg_hw = None
    if seg_hw is None:
        seg_hw = np.full((n, 2), np.nan)
        for i, seg in enumerate(segs):
            if isinstance(seg, dict):
                size, counts = seg.get('size'), seg.get('counts')
                try:
                    if type(counts) not in _COUNTS or len(size) != 2:
                        raise TypeError
                    seg_hw[i] = [float(v) for v in size]
                except (TypeError, ValueError):
                    bad[i] = True
            elif not isinstance(seg, list):  # polygons: lists of lists
                bad[i] = True
    reasons[BAD_MASK] = bad
    if sizes is not None:
        with np.errstate(invalid='ignore'):
            known = ~np.isnan(seg_hw[:, 0]) & ~np.isnan(sizes[:, 0])
            reasons[MASK_SIZE] = known & (seg_hw != sizes).any(axis=1)


def _sizes_of(image_ids: Sequence[Any],
              img_sizes: Mapping[Any, Tuple[int, int]]) -> np.ndarray:
    nan2 = (np.nan, np.nan)
    get = img_sizes.get
    if set(map(type, image_ids)) == {int}:  # one lookup per image
        uniq, inv = np.unique(
            np.fromiter(image_ids, np.int64, len(image_ids)),
            return_inverse=True)
        table = np.array([get(int(u), nan2) for u in uniq],
                         dtype=np.float64).reshape(-1, 2)
        return table[inv.reshape(-1)]
    return np.fromiter(
        chain.from_iterable(get(i, nan2) for i in image_ids), np.float64,
        2 * len(image_ids)).reshape(-1, 2)


def _finish(reasons: Dict[str, np.ndarray], n: int, image_ids: Sequence,
            num_images: int, describe) -> InvalidDetections:
    invalid = np.zeros(n, dtype=bool)
    for flags in reasons.values():
        invalid |= flags
    counts = OrderedDict(
        (r, int(np.count_nonzero(f))) for r, f in reasons.items())
    examples = []
    for i in np.flatnonzero(invalid)[:3]:
        why = ', '.join(r for r, f in reasons.items() if f[i])
        examples.append(f'{describe(int(i))} ({why})')
    return InvalidDetections(invalid, counts, image_ids, num_images,
                             examples)


def _known_flags(values: list, known: Container) -> np.ndarray:
    try:
        missing = set(values).difference(known)
    except TypeError:  # unhashable ids: every one is unknown
        return np.array([not _in(v, known) for v in values], dtype=bool)
    if not missing:
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((v in missing for v in values), bool, len(values))


def _in(v, known) -> bool:
    try:
        return v in known
    except TypeError:
        return False


def _not_none(values: list) -> np.ndarray:
    if None not in values:
        return np.ones(len(values), dtype=bool)
    return np.fromiter((v is not None for v in values), bool, len(values))


def find_invalid_results(dets: Sequence[dict],
                         img_ids: Optional[Container] = None,
                         cat_ids: Optional[Container] = None,
                         img_sizes: Optional[Mapping[Any, Tuple[int,
                                                               int]]] = None,
                         source: str = 'detections',
                         require_bbox: bool = False) -> InvalidDetections:
    """Check COCO/LVIS json results (``bbox`` is [x, y, w, h]).

    Args:
        dets: the results; not modified.
        img_ids / cat_ids: the GT's image / category ids (None: not
            checked).
        img_sizes: image id -> (height, width); RLE ``size`` must equal it
            (None: only the RLE structure is checked).
        source: name of the results in format errors.
        require_bbox: every detection needs a ``bbox`` (box results).

    Raises:
        ValueError: a detection is not a dict or lacks a required key.
    """
    n = len(dets)
    if n == 0:
        return InvalidDetections(np.zeros(0, bool), {}, [], 0)
    image_ids = _column(dets, 'image_id', source)
    cats = _column(dets, 'category_id', source)
    scores = _as_float(_column(dets, 'score', source), 0, source, 'score',
                       dets)
    reasons: Dict[str, np.ndarray] = OrderedDict()
    reasons[NONFINITE_SCORE] = ~np.isfinite(scores)

    boxes = _column(dets, 'bbox', source, required=require_bbox)
    segs = _column(dets, 'segmentation', source, required=False)
    has_box = _not_none(boxes)
    has_seg = _not_none(segs)
    no_geom = ~(has_box | has_seg)
    if no_geom.any():
        i = int(np.flatnonzero(no_geom)[0])
        raise _format_error(source, i, "has neither 'bbox' nor "
                            "'segmentation'", dets[i])
    if has_box.any():
        idx = np.flatnonzero(has_box)
        sub = boxes if has_box.all() else [boxes[i] for i in idx]
        arr = _as_float(sub, 4, source, 'bbox',
                        dets if has_box.all() else [dets[i] for i in idx])
        sub_reasons: Dict[str, np.ndarray] = OrderedDict()
        _box_flags(arr, 'xywh', sub_reasons)
        for r, f in sub_reasons.items():
            full = np.zeros(n, dtype=bool)
            full[idx] = f
            reasons[r] = full
    if has_seg.any():
        idx = np.flatnonzero(has_seg)
        sub = segs if has_seg.all() else [segs[i] for i in idx]
        sizes = None
        if img_sizes is not None:
            sizes = _sizes_of(
                image_ids if has_seg.all() else
                [image_ids[i] for i in idx], img_sizes)
        sub_reasons = OrderedDict()
        _rle_flags(sub, sizes, sub_reasons)
        for r, f in sub_reasons.items():
            full = np.zeros(n, dtype=bool)
            full[idx] = f
            reasons[r] = full
    if img_ids is not None:
        reasons[UNKNOWN_IMAGE] = _known_flags(image_ids, img_ids)
    if cat_ids is not None:
        reasons[UNKNOWN_CAT] = _known_flags(cats, cat_ids)

    def describe(i):
        d = dets[i]
        text = (f'detection #{i} (image {d.get("image_id")!r}, category '
                f'{d.get("category_id")!r}): score {_fmt_num(d.get("score"))}')
        if d.get('bbox') is not None:
            text += f', bbox (xywh) {_fmt_box(d["bbox"])}'
        seg = d.get('segmentation')
        if isinstance(seg, Mapping):
            text += f', mask size {seg.get("size")}'
        return text

    try:
        num_images = len(set(image_ids))
    except TypeError:
        num_images = n
    return _finish(reasons, n, image_ids, num_images, describe)


def _np(x) -> np.ndarray:
    if hasattr(x, 'detach'):  # torch tensors
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def find_invalid_preds(preds: Sequence[dict],
                       num_classes: Optional[int] = None,
                       img_ids: Optional[Container] = None,
                       img_sizes: Optional[Mapping[Any, Tuple[int,
                                                             int]]] = None,
                       source: str = 'predictions') -> InvalidDetections:
    """Check mmdet per-image predictions (``bboxes`` are xyxy).

    Every dict holds ``img_id``, ``bboxes`` (n, 4), ``scores`` (n,),
    ``labels`` (n,) and optionally ``masks`` (n RLE dicts or an (n, H, W)
    array) and ``mask_scores`` (n,).  Flags are in image order, then
    detection order.

    Args:
        num_classes: labels must be in [0, num_classes) (None: >= 0).
        img_ids: the GT image ids (None: not checked).
        img_sizes: image id -> (height, width) of the masks.
    """
    parts, image_ids = [], []
    for k, pred in enumerate(preds):
        img_id = pred.get('img_id', k)
        try:
            boxes = _np(pred['bboxes']).astype(np.float64)
            scores = _np(pred['scores']).astype(np.float64).reshape(-1)
            labels = _np(pred['labels']).reshape(-1)
        except KeyError as e:
            raise ValueError(f'{source}: the prediction of image {img_id!r} '
                             f'has no {e}; expected bboxes, scores and '
                             'labels (mmdet pred_instances)') from None
        m = len(scores)
        boxes = boxes.reshape(-1, 4) if boxes.size else np.zeros((0, 4))
        if boxes.shape != (m, 4) or labels.shape != (m, ):
            raise ValueError(
                f'{source}: the prediction of image {img_id!r} has '
                f'{m} scores, {boxes.shape} bboxes and {labels.shape} '
                'labels; expected (n,), (n, 4), (n,)')
        r: Dict[str, np.ndarray] = OrderedDict()
        r[NONFINITE_SCORE] = ~np.isfinite(scores)
        if 'mask_scores' in pred:
            ms = _np(pred['mask_scores']).astype(np.float64).reshape(-1)
            if ms.shape == (m, ):
                r[NONFINITE_SCORE] |= ~np.isfinite(ms)
        _box_flags(boxes, 'xyxy', r)
        if not np.issubdtype(labels.dtype, np.integer):
            lab = labels.astype(np.float64)
            r[BAD_LABEL] = ~np.isfinite(lab) | (lab != np.round(lab))
            lab = np.where(r[BAD_LABEL], -1, lab).astype(np.int64)
        else:
            lab, r[BAD_LABEL] = labels, np.zeros(m, dtype=bool)
        r[BAD_LABEL] |= lab < 0
        if num_classes is not None:
            r[BAD_LABEL] |= lab >= num_classes
        hw = None if img_sizes is None else img_sizes.get(img_id)
        if 'masks' in pred:
            masks = pred['masks']
            if hasattr(masks, 'shape') or hasattr(masks, 'masks'):
                arr = getattr(masks, 'masks', masks)
                shp = tuple(arr.shape)
                bad = len(shp) != 3 or shp[0] != m
                r[BAD_MASK] = np.full(m, bad)
                r[MASK_SIZE] = np.full(
                    m, not bad and hw is not None
                    and tuple(shp[1:]) != tuple(hw))
            elif len(masks) != m:
                r[BAD_MASK] = np.ones(m, dtype=bool)
            else:
                _rle_flags(
                    list(masks), None if hw is None else np.tile(
                        np.asarray(hw, np.float64), (m, 1)), r)
        if img_ids is not None:
            r[UNKNOWN_IMAGE] = np.full(m, not _in(img_id, img_ids))
        parts.append((k, img_id, r, boxes, scores, labels))
        image_ids.extend([img_id] * m)

    keys = list(OrderedDict.fromkeys(k for p in parts for k in p[2]))
    n = len(image_ids)
    reasons = OrderedDict()
    for key in keys:
        reasons[key] = np.concatenate(
            [p[2].get(key, np.zeros(len(p[4]), dtype=bool))
             for p in parts]) if parts else np.zeros(0, dtype=bool)
    starts = np.cumsum([0] + [len(p[4]) for p in parts])

    def describe(i):
        pos = int(np.searchsorted(starts, i, side='right')) - 1
        k, img_id, _, boxes, scores, labels = parts[pos]
        j = i - int(starts[pos])
        of = '' if num_classes is None else f' of {num_classes} classes'
        return (f'image {img_id!r} detection {j}: score '
                f'{_fmt_num(scores[j])}, label {labels[j]}{of}, bbox (xyxy) '
                f'{_fmt_box(boxes[j])}')

    return _finish(reasons, n, image_ids, len(preds), describe)


def apply_policy(report: InvalidDetections,
                 policy: str,
                 source: str,
                 option: str = "invalid_detections='drop'") -> np.ndarray:
    """Raise (``'error'``) or log the drop (``'drop'``) of the invalid
    detections; return the bool keep mask.

    Args:
        report: from :func:`find_invalid_results`/:func:`find_invalid_preds`.
        policy: 'error' or 'drop'.
        source: what the detections are, for the messages.
        option: how the user switches to dropping (shown in the error).
    """
    check_policy(policy)
    if report.num_invalid == 0:
        return ~report.invalid
    if policy == 'error':
        raise InvalidDetectionsError(report.message(source, option))
    why = ', '.join(f'{n} {r}' for r, n in report.reasons.items() if n)
    print_log(
        f'{source}: dropped {report.summary()} as invalid ({why}); '
        'evaluating the remaining '
        f'{report.num_total - report.num_invalid}. e.g. '
        + '; '.join(report.examples),
        logger='current',
        level=logging.WARNING)
    return ~report.invalid


def validate_results(dets: List[dict],
                     policy: str = 'error',
                     source: str = 'detections',
                     option: str = "invalid_detections='drop'",
                     **kwargs) -> List[dict]:
    """:func:`find_invalid_results` + :func:`apply_policy`: ``dets`` itself
    when all are valid, else the valid ones (``'drop'``) or an error."""
    report = find_invalid_results(dets, source=source, **kwargs)
    keep = apply_policy(report, policy, source, option)
    if report.num_invalid == 0:
        return dets
    return [d for d, k in zip(dets, keep) if k]


def validate_preds(preds: Sequence[dict],
                   policy: str = 'error',
                   source: str = 'predictions',
                   option: str = "invalid_detections='drop'",
                   **kwargs) -> List[dict]:
    """:func:`find_invalid_preds` + :func:`apply_policy` on mmdet
    per-image predictions; with ``'drop'`` returns copies of the dicts
    holding only the valid detections (images keep their entry)."""
    report = find_invalid_preds(preds, source=source, **kwargs)
    keep = apply_policy(report, policy, source, option)
    if report.num_invalid == 0:
        return list(preds)
    out, start = [], 0
    per_det = ('bboxes', 'scores', 'labels', 'mask_scores')
    for pred in preds:
        m = len(_np(pred['scores']).reshape(-1))
        k = keep[start:start + m]
        start += m
        if k.all():
            out.append(pred)
            continue
        new = dict(pred)
        for key in per_det:
            if key in pred:
                new[key] = _np(pred[key])[k]
        if 'masks' in pred:
            masks = pred['masks']
            if hasattr(masks, 'shape') or hasattr(masks, 'masks'):
                new['masks'] = _np(getattr(masks, 'masks', masks))[k]
            else:
                new['masks'] = [mk for mk, kk in zip(masks, k) if kk]
        out.append(new)
    return out


def validate_scores(scores: np.ndarray,
                    policy: str = 'error',
                    source: str = 'scores',
                    option: str = "invalid_scores='drop'",
                    names: Optional[Sequence[Any]] = None) -> np.ndarray:
    """Non-finite values in a (num_images, num_classes) score matrix
    (multi-label classification); returns the bool mask of the images
    (rows) to keep.  ``names``: row names (image ids) for the messages."""
    scores = np.asarray(scores, dtype=np.float64)
    bad_cell = ~np.isfinite(scores)
    bad_row = bad_cell.reshape(len(scores), -1).any(axis=1)
    n_bad = int(bad_row.sum())
    keep = ~bad_row
    if n_bad == 0:
        return keep
    rows = np.flatnonzero(bad_row)
    label = (lambda i: names[i]) if names is not None else (lambda i: i)
    ex = []
    for i in rows[:3]:
        cols = np.flatnonzero(bad_cell[i])
        ex.append(f'image {label(int(i))!r}: {len(cols)} classes, e.g. '
                  f'class {int(cols[0])} = {scores[i, cols[0]]}')
    what = (f'{n_bad} of {len(scores)} images have non-finite scores '
            f'({int(bad_cell.sum())} of {bad_cell.size} values); e.g. '
            + '; '.join(ex))
    check_policy(policy)
    if policy == 'error' or n_bad == len(scores):
        fix = ('Every image is invalid, so dropping them leaves nothing to '
               'evaluate.' if policy == 'drop' else
               'Refusing to evaluate them: the mAP would be meaningless. '
               f'To evaluate only the other images, use {option} (the '
               'number dropped is logged).')
        raise InvalidDetectionsError(
            f'{source}: {what}. Likely cause: the model diverged (a NaN/inf '
            'loss): check the training log for nan/inf losses and the '
            f'checkpoint that produced these scores. {fix}')
    print_log(
        f'{source}: dropped {what}; evaluating the remaining '
        f'{len(scores) - n_bad} images.',
        logger='current',
        level=logging.WARNING)
    return keep
