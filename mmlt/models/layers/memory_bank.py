"""Memory-augmented feature sampling (MFS) building blocks of LOCE (Feng et
al., "Exploring Classification Equilibrium in Long-Tailed Object
Detection", ICCV 2021): GT box jitter, per-class feature memory bank and
its score-guided sampler.

Per training iteration a LOCE RoI head does (everything here is no-grad):

1. ``feats, labels, targets = generate_memory_items(roi_extractor, x,
   batch_gt_instances, batch_img_metas, bbox_coder)`` -- 16 jittered boxes
   per GT, RoIAlign on the FPN levels, regression targets towards the GT;
2. ``bank.enqueue(feats, labels, targets)``;
3. ``m_feats, m_labels, m_targets = bank.sample(mean_score, 8, 4,
   device=bbox_feats.device, dtype=bbox_feats.dtype)`` with ``mean_score``
   the tracker's ``[C+1]`` buffer (after this iteration's update);
4. ``m_feats`` are appended to the sampled RoIs' ``bbox_feats`` before the
   bbox head's shared FCs, ``m_labels`` / ``m_targets`` to the targets with
   classification and regression weights 1 (they count in ``avg_factor``).

The original enqueues before sampling (step 2 before 3), so a class seen
for the first time can already be sampled in the same iteration.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi, get_box_tensor

__all__ = [
    'jitter_signs', 'jitter_boxes', 'generate_memory_items',
    'FeatureMemoryBank'
]

_DTYPES = {
    'float16': torch.float16,
    'fp16': torch.float16,
    'half': torch.float16,
    'bfloat16': torch.bfloat16,
    'bf16': torch.bfloat16,
    'float32': torch.float32,
    'fp32': torch.float32,
    'float': torch.float32,
}
_FP16_MAX = 65504.0


def jitter_signs(num: int = 16,
                 device: Union[str, torch.device, None] = None,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """The ``[num, 4]`` matrix ``M^T`` of offset signs for (x1, y1, x2, y2).

    Row ``i`` is the binary expansion of ``i mod 16`` (x1 most significant
    bit, 0 -> -1, 1 -> +1), so 16 rows enumerate all 2^4 sign patterns once,
    in the order of the original LOCE matrix.
    """
    i = torch.arange(num, device=device) % 16
    bits = (i[:, None] >> torch.tensor([3, 2, 1, 0], device=device)) & 1
    return (bits * 2 - 1).to(dtype)


def jitter_boxes(gt_boxes: Tensor,
                 img_shape: Sequence[int],
                 num: int = 16,
                 generator: Optional[torch.Generator] = None,
                 min_size: float = 1.0) -> Tensor:
    r"""Jitter every GT box into ``num`` boxes (LOCE's feature generator).

    .. math::
        b_{kj} = g_k + \tfrac{1}{6}\, M_{:,j} \odot U_{kj} \odot
                 [w_k, h_k, w_k, h_k], \qquad U_{kj} \sim
                 \mathcal{U}(0, 1)^4

    with ``M`` the 4 x 16 matrix of all sign patterns (:func:`jitter_signs`;
    ``num != 16`` cycles through them), then clamped to the image: x to
    ``[0, w_img]``, y to ``[0, h_img]`` (mmdet's clipping; the original
    clamped to ``w_img - 1`` / ``h_img - 1``).

    Every side moves by at most a sixth of the GT size, so a jittered box of
    a GT inside the image keeps >= 2/3 of its width and height.  Boxes
    narrower (lower) than ``min_size`` after clamping -- only from GTs of
    (almost) zero size or lying (almost) outside the image -- are widened to
    ``min_size`` inside the image (``x1 = min(x1, w_img - min_size)``,
    ``x2 = x1 + min_size``), so RoIAlign and ``log(w_gt / w)`` regression
    targets stay finite; the output always has ``K * num`` rows.

    Args:
        gt_boxes (Tensor): ``[K, 4]`` (x1, y1, x2, y2) boxes of one image.
        img_shape (tuple): ``(h, w)`` of that image (``img_meta
            ['img_shape']``, without padding).
        num (int): jittered boxes per GT (16).
        generator (torch.Generator, optional): RNG for U; U is drawn on the
            generator's device.  Default: the global RNG of the boxes'
            device.
        min_size (float): smallest width / height kept, in pixels.

    Returns:
        Tensor: ``[K * num, 4]``, rows ``k*num .. k*num + num - 1`` jitter
        GT ``k``; same device and dtype as ``gt_boxes``.
    """
    gt_boxes = get_box_tensor(gt_boxes)
    if gt_boxes.dim() != 2 or gt_boxes.shape[1] != 4:
        raise ValueError('jitter_boxes: gt_boxes must be [K, 4] (x1, y1, x2, '
                         f'y2), got {tuple(gt_boxes.shape)}')
    if num < 1:
        raise ValueError(f'jitter_boxes: num must be >= 1, got {num}')
    img_h, img_w = float(img_shape[0]), float(img_shape[1])
    if min(img_h, img_w) < min_size:
        raise ValueError(f'jitter_boxes: image {img_shape[:2]} is smaller '
                         f'than min_size={min_size}')
    k = gt_boxes.shape[0]
    boxes = gt_boxes.detach()
    rng_dev = generator.device if generator is not None else boxes.device
    u = torch.rand((k, num, 4),
                   generator=generator,
                   device=rng_dev,
                   dtype=boxes.dtype).to(boxes.device)
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)  # [w, h, w, h]
    signs = jitter_signs(num, boxes.device, boxes.dtype)
    out = boxes[:, None, :] + signs[None] * u * wh[:, None, :] / 6
    out = out.reshape(k * num, 4)
    x1 = out[:, 0].clamp(0, img_w)
    y1 = out[:, 1].clamp(0, img_h)
    x2 = out[:, 2].clamp(0, img_w)
    y2 = out[:, 3].clamp(0, img_h)
    small_x = (x2 - x1) < min_size
    x1 = torch.where(small_x, x1.clamp(max=img_w - min_size), x1)
    x2 = torch.where(small_x, x1 + min_size, x2)
    small_y = (y2 - y1) < min_size
    y1 = torch.where(small_y, y1.clamp(max=img_h - min_size), y1)
    y2 = torch.where(small_y, y1 + min_size, y2)
    return torch.stack([x1, y1, x2, y2], 1)


@torch.no_grad()
def generate_memory_items(
    bbox_roi_extractor: nn.Module,
    x: Sequence[Tensor],
    batch_gt_instances: Sequence,
    batch_img_metas: Sequence[dict],
    bbox_coder: Optional[nn.Module] = None,
    num: int = 16,
    generator: Optional[torch.Generator] = None
) -> Tuple[Tensor, Tensor, Tensor]:
    """Memory items of a batch: jittered GT boxes, their pooled (detached)
    RoI features, labels and regression targets.

    Args:
        bbox_roi_extractor: the RoI head's extractor (mmdet's
            ``SingleRoIExtractor``); fed ``x[:num_inputs]`` like
            ``StandardRoIHead._bbox_forward``.
        x (tuple[Tensor]): FPN features.
        batch_gt_instances: per image ``InstanceData`` with ``bboxes`` and
            ``labels``.
        batch_img_metas: per image meta with ``img_shape`` ``(h, w)``.
        bbox_coder: the bbox head's coder; targets are
            ``bbox_coder.encode(jittered, gt)``.  ``None`` (heads with
            ``reg_decoded_bbox=True``): targets are the GT boxes.
        num (int): jittered boxes per GT (16).
        generator (torch.Generator, optional): RNG of the jitter.

    Returns:
        tuple: feats ``[N, C_feat, 7, 7]`` (no grad), labels ``[N]`` long,
        targets ``[N, 4]``, ``N = num * #GTs`` of the batch, images in order.
    """
    boxes: List[Tensor] = []
    gts, labels = [], []
    for inst, meta in zip(batch_gt_instances, batch_img_metas):
        gt = get_box_tensor(inst.bboxes)
        boxes.append(jitter_boxes(gt, meta['img_shape'], num, generator))
        gts.append(gt.repeat_interleave(num, 0))
        labels.append(inst.labels.repeat_interleave(num, 0))
    rois = bbox2roi(boxes)
    feats = bbox_roi_extractor(x[:bbox_roi_extractor.num_inputs], rois)
    jittered, gt = torch.cat(boxes), torch.cat(gts)
    targets = gt if bbox_coder is None else bbox_coder.encode(jittered, gt)
    return feats.detach(), torch.cat(labels).long(), targets.detach()


@MODELS.register_module()
class FeatureMemoryBank(nn.Module):
    r"""Per-class ring buffers of RoI features and regression targets, with
    LOCE's score-guided sampler.

    Storage (allocated on first :meth:`enqueue`, so building a model does
    not allocate gigabytes): ``feats [C, Q, *feat_shape]`` in ``dtype``,
    ``targets [C, Q, 4]`` float32, and per class ``count`` (filled entries,
    <= Q) and ``ptr`` (next slot), int64 on the CPU.  Labels are the class
    index.  Unfilled slots are never read (``torch.empty`` storage: on the
    CPU the OS only commits the pages actually written).

    **Enqueue.** Per class, at most the first Q items of the batch (batch
    order) are written at ``ptr, ptr+1, ...`` mod Q, overwriting the oldest
    entries once the queue is full.

    **Sample.** Draw ``sampled_num_classes`` classes with replacement,

    .. math::
        P(c) = \frac{1 / (m_c + 10^{-7})}{\sum_{c' \in F} 1 / (m_{c'} +
               10^{-7})}, \quad c \in F = \{c < C : \text{count}_c > 0\},

    ``m`` the tracker's mean classification score (background entry
    ignored); then ``sampled_num_features`` stored entries of each drawn
    class uniformly with replacement.  Weak classes (low mean score) are
    replayed most.  Differences from the original ``MFS``:

    * it drew over all classes and dropped draws of empty queues, returning
      fewer than 8 x 4 items; here only non-empty classes are candidates, so
      the output always has 8 x 4 items (0 when the bank is empty).  Given
      the drawn class is non-empty the distribution is the same, and after
      the init hook (which fills every class) both coincide; a fixed size
      keeps ``avg_factor`` and batch shapes stable early on.
    * its inverse CDF walked a float32 cumulative sum of normalised
      probabilities that could end below 1, so sorted uniforms above it
      drew nothing (< 8 classes); here the uniforms are scaled by the
      float64 cumulative sum's own total, and zero-weight classes cannot be
      returned.
    * the RNG is a CPU ``torch.Generator`` (or the global CPU RNG) for all
      bookkeeping, so draws do not depend on the bank's or model's device.

    **Memory.** LVIS (C=1203, Q=80, 256 x 7 x 7): fp32 features take
    4.83e9 B (4.50 GiB, the original's host RAM per process); the default
    fp16 (or bf16) takes 2.414e9 B = 2.25 GiB (+ 1.5 MB targets), exactly
    half: within a 2.4 GiB budget, 0.6 % above 2.4e9 B (meeting that
    would need 1-byte storage or fewer entries, i.e. other sampling
    semantics).  fp16 rounds each value with relative error <= 2^-11
    (bf16: 2^-8); measured (``tools/benchmark/memory_bank.py``) the stored
    features change by 2e-4 relative L2 and the class logits computed from
    them by 2e-4 (bf16: 2e-3 / 1.5e-3).  Features are detached, so no
    gradient is affected.  fp16 has the finer mantissa; bf16 only matters
    for values beyond fp16's range (|x| > 65504, a diverged model), which
    fp16 storage clamps instead of storing inf.

    **State.** The bank is neither a parameter nor a buffer: it is not in
    ``state_dict`` (2.4 GB per rank in every checkpoint is not worth it),
    ``model.to()`` / DDP leave it alone, and it is not synchronised across
    ranks (each rank keeps its own, as in the original).  It is refilled by
    the init hook before stage-2 training (also on resume); :meth:`reset`
    empties it.

    Args:
        num_classes (int): C, foreground classes (the head's
            ``num_classes``).
        queue_size (int): Q, entries per class (80).
        feat_shape (tuple[int]): shape of one RoI feature ((256, 7, 7)).
        device (str): 'cpu' (default, as the original), a CUDA device
            ('cuda', 'cuda:1'), or 'auto' = the device of the features of the
            first :meth:`enqueue` (the model's).  Fixed at allocation.
        dtype (str): storage dtype of the features: 'float16' (default),
            'bfloat16' or 'float32'.
    """

    EPS = 1e-7

    def __init__(self,
                 num_classes: int,
                 queue_size: int = 80,
                 feat_shape: Sequence[int] = (256, 7, 7),
                 device: str = 'cpu',
                 dtype: Union[str, torch.dtype] = 'float16') -> None:
        super().__init__()
        name = type(self).__name__
        if int(num_classes) < 1:
            raise ValueError(f'{name}: num_classes must be >= 1, got '
                             f'{num_classes}')
        if int(queue_size) < 1:
            raise ValueError(f'{name}: queue_size must be >= 1, got '
                             f'{queue_size}')
        feat_shape = tuple(int(s) for s in feat_shape)
        if not feat_shape or min(feat_shape) < 1:
            raise ValueError(f'{name}: feat_shape must be positive sizes, '
                             f'got {feat_shape}')
        self.num_classes = int(num_classes)
        self.queue_size = int(queue_size)
        self.feat_shape = feat_shape
        self.dtype = self._parse_dtype(dtype)
        if device != 'auto':
            try:
                torch.device(device)
            except (RuntimeError, TypeError) as e:
                raise ValueError(
                    f"{name}: device={device!r} is not 'cpu', 'cuda[:i]' or "
                    "'auto'") from e
        self.device_cfg = device
        # plain attributes (not buffers): see "State" in the class doc
        self.feats: Optional[Tensor] = None
        self.targets: Optional[Tensor] = None
        self.count = torch.zeros(self.num_classes, dtype=torch.long)
        self.ptr = torch.zeros(self.num_classes, dtype=torch.long)

    # ------------------------------------------------------------- sizes
    @staticmethod
    def _parse_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
        if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
            return dtype
        if isinstance(dtype, str) and dtype in _DTYPES:
            return _DTYPES[dtype]
        raise ValueError(f'FeatureMemoryBank: dtype={dtype!r} is not '
                         "supported; use 'float16', 'bfloat16' or 'float32'")

    @classmethod
    def estimate_nbytes(
            cls,
            num_classes: int,
            queue_size: int = 80,
            feat_shape: Sequence[int] = (256, 7, 7),
            dtype: Union[str, torch.dtype] = 'float16') -> Dict[str, int]:
        """Bytes of a full bank, computed from the shapes (nothing is
        allocated): ``feats``, ``targets`` (float32), ``bookkeeping``
        (count + ptr, int64) and ``total``."""
        item = torch.empty((), dtype=cls._parse_dtype(dtype)).element_size()
        cq = int(num_classes) * int(queue_size)
        out = dict(feats=cq * math.prod(feat_shape) * item,
                   targets=cq * 4 * 4,
                   bookkeeping=2 * int(num_classes) * 8)
        out['total'] = sum(out.values())
        return out

    def nbytes(self) -> int:
        """Total bytes of this bank once allocated (allocated or not)."""
        return self.estimate_nbytes(self.num_classes, self.queue_size,
                                    self.feat_shape, self.dtype)['total']

    @property
    def is_allocated(self) -> bool:
        return self.feats is not None

    @property
    def storage_device(self) -> Optional[torch.device]:
        """Device of the stored features (None before allocation)."""
        return None if self.feats is None else self.feats.device

    def summary(self) -> Dict[str, Union[int, bool, str]]:
        """State summary for logs: filled / full classes, stored entries and
        bytes (allocated now and of the full bank)."""
        return dict(num_classes=self.num_classes,
                    queue_size=self.queue_size,
                    dtype=str(self.dtype).replace('torch.', ''),
                    device=str(self.storage_device or self.device_cfg),
                    allocated=self.is_allocated,
                    filled_classes=int((self.count > 0).sum()),
                    full_classes=int((self.count == self.queue_size).sum()),
                    stored=int(self.count.sum()),
                    bytes_allocated=self.nbytes() if self.is_allocated else 0,
                    bytes_full=self.nbytes())

    def reset(self, free: bool = False) -> None:
        """Empty every queue; ``free=True`` also releases the storage."""
        self.count.zero_()
        self.ptr.zero_()
        if free:
            self.feats = None
            self.targets = None

    def _allocate(self, feat_device: torch.device) -> None:
        dev = feat_device if self.device_cfg == 'auto' else torch.device(
            self.device_cfg)
        if dev.type == 'cuda' and not torch.cuda.is_available():
            raise RuntimeError(
                f'FeatureMemoryBank: device={self.device_cfg!r} but CUDA is '
                "not available; set the memory bank's device to 'cpu' or "
                "'auto'")
        c, q = self.num_classes, self.queue_size
        self.feats = torch.empty((c, q) + self.feat_shape,
                                 dtype=self.dtype,
                                 device=dev)
        self.targets = torch.zeros((c, q, 4), dtype=torch.float32, device=dev)

    # ----------------------------------------------------------- enqueue
    @torch.no_grad()
    def enqueue(self, feats: Tensor, labels: Tensor, targets: Tensor) -> int:
        """Write a batch into the class queues (see the class doc).

        Args:
            feats (Tensor): ``[N, *feat_shape]`` on any device (detached
                RoI features); gathered, cast and moved once.
            labels (Tensor): ``[N]`` classes in ``[0, C)``.
            targets (Tensor): ``[N, 4]`` regression targets.

        Returns:
            int: number of items written (N minus those over Q per class).
        """
        name = type(self).__name__
        n = feats.shape[0]
        if tuple(feats.shape[1:]) != self.feat_shape:
            raise ValueError(f'{name}.enqueue: feats must be [N, '
                             f'{", ".join(map(str, self.feat_shape))}] '
                             f'(feat_shape), got {tuple(feats.shape)}')
        if labels.shape != (n, ) or targets.shape != (n, 4):
            raise ValueError(f'{name}.enqueue: expected labels [{n}] and '
                             f'targets [{n}, 4], got {tuple(labels.shape)} '
                             f'and {tuple(targets.shape)}')
        if n == 0:
            return 0
        # bookkeeping on the CPU: one small device->host copy of the labels
        lab = labels.detach().to('cpu', torch.long)
        if int(lab.min()) < 0 or int(lab.max()) >= self.num_classes:
            raise ValueError(
                f'{name}.enqueue: labels must be foreground classes in [0, '
                f'{self.num_classes}) (num_classes), got '
                f'[{int(lab.min())}, {int(lab.max())}]')
        q = self.queue_size
        order = torch.argsort(lab, stable=True)  # class-major, batch order
        sorted_lab = lab[order]
        per_class = torch.bincount(lab, minlength=self.num_classes)
        first = per_class.cumsum(0) - per_class
        rank = torch.arange(n) - first[sorted_lab]  # index within its class
        keep = rank < q
        src_idx = order[keep]
        cls = sorted_lab[keep]
        slot = cls * q + (self.ptr[cls] + rank[keep]) % q

        if self.feats is None:
            self._allocate(feats.device)
        dev = self.feats.device
        if bool(keep.all()):
            # common case: nothing dropped, scatter in batch order, no gather
            dst = torch.empty_like(slot)
            dst[order] = slot
            f, t = feats.detach(), targets.detach()
        else:
            dst = slot
            idx = src_idx.to(feats.device)
            f, t = feats.detach()[idx], targets.detach()[idx.to(
                targets.device)]
        # cast on the source device (halves a GPU->CPU copy), then move
        src = f
        f = f.to(self.dtype)
        if self.dtype == torch.float16:
            # in place unless the cast returned the caller's own tensor
            if f.data_ptr() == src.data_ptr():
                f = f.clamp(-_FP16_MAX, _FP16_MAX)
            else:
                f.clamp_(-_FP16_MAX, _FP16_MAX)
        f = f.to(dev)
        dst = dst.to(dev)
        self.feats.view(self.num_classes * q,
                        -1).index_copy_(0, dst, f.reshape(f.shape[0], -1))
        self.targets.view(-1, 4).index_copy_(0, dst, t.to(dev, torch.float32))

        written = per_class.clamp(max=q)
        self.ptr = (self.ptr + written) % q
        self.count = (self.count + written).clamp_(max=q)
        return int(keep.sum())

    # ------------------------------------------------------------ sample
    @torch.no_grad()
    def class_probs(self, mean_score: Tensor) -> Tensor:
        """``P(c)`` of the class draw, float64 ``[C]`` on the CPU (0 for
        empty queues; all 0 when the bank is empty)."""
        name = type(self).__name__
        c = self.num_classes
        if mean_score.dim() != 1 or mean_score.shape[0] not in (c, c + 1):
            raise ValueError(
                f'{name}.sample: mean_score must be [C+1] = [{c + 1}] (or '
                f'[C]), got {tuple(mean_score.shape)}; check num_classes')
        m = mean_score.detach()[:c].to('cpu', torch.float64)
        filled = self.count > 0
        if not bool(torch.isfinite(m[filled]).all()) or bool(
            (m[filled] < 0).any()):
            raise ValueError(f'{name}.sample: mean_score must be finite and '
                             '>= 0 for the sampled classes')
        w = torch.where(filled, 1.0 / (m + self.EPS), torch.zeros_like(m))
        total = w.sum()
        return w / total if total > 0 else w

    @torch.no_grad()
    def sample(
            self,
            mean_score: Tensor,
            sampled_num_classes: int = 8,
            sampled_num_features: int = 4,
            generator: Optional[torch.Generator] = None,
            device: Union[str, torch.device, None] = None,
            dtype: Optional[torch.dtype] = None
    ) -> Tuple[Tensor, Tensor, Tensor]:
        """Draw memory items (see the class doc).

        Args:
            mean_score (Tensor): ``[C+1]`` mean scores (background last,
                ignored; ``[C]`` also accepted).
            sampled_num_classes (int): classes drawn with replacement (8).
            sampled_num_features (int): entries drawn per class (4).
            generator (torch.Generator, optional): a CPU generator; default
                the global CPU RNG.
            device: device of the outputs (default: ``mean_score``'s).
            dtype: dtype of the returned features (default float32).

        Returns:
            tuple: feats ``[M, *feat_shape]``, labels ``[M]`` long, targets
            ``[M, 4]`` float32, ``M = sampled_num_classes *
            sampled_num_features`` (0 while every queue is empty); class
            ``j`` of the draw fills rows ``j*F .. j*F + F - 1``.
        """
        name = type(self).__name__
        if sampled_num_classes < 1 or sampled_num_features < 1:
            raise ValueError(
                f'{name}.sample: sampled_num_classes and sampled_num_features'
                f' must be >= 1, got {sampled_num_classes}, '
                f'{sampled_num_features}')
        if generator is not None and generator.device.type != 'cpu':
            raise ValueError(f'{name}.sample: generator must be a CPU '
                             'torch.Generator (bookkeeping is on the CPU)')
        device = mean_score.device if device is None else torch.device(device)
        dtype = torch.float32 if dtype is None else dtype
        w = self.class_probs(mean_score)
        if self.feats is None or not bool((w > 0).any()):
            return (torch.empty((0, ) + self.feat_shape,
                                dtype=dtype,
                                device=device),
                    torch.empty(0, dtype=torch.long, device=device),
                    torch.empty((0, 4), dtype=torch.float32, device=device))
        k, f = int(sampled_num_classes), int(sampled_num_features)
        # exact inverse CDF in float64: u in [0, total); a rounded u == total
        # (searchsorted -> C) goes to the last class with positive weight
        cdf = torch.cumsum(w, 0)
        u = torch.rand(k, generator=generator, dtype=torch.float64) * cdf[-1]
        last = int(torch.nonzero(w).max())
        classes = torch.searchsorted(cdf, u, right=True).clamp_(max=last)
        n = self.count[classes]
        v = torch.rand((k, f), generator=generator, dtype=torch.float64)
        slot = torch.minimum((v * n[:, None]).long(), n[:, None] - 1)
        # count < Q means slots 0 .. count-1 are the filled ones
        flat = (classes[:, None] * self.queue_size + slot).reshape(-1)
        idx = flat.to(self.feats.device)
        feats = self.feats.view((-1, ) + self.feat_shape).index_select(0, idx)
        targets = self.targets.view(-1, 4).index_select(0, idx)
        # move in the (smaller) storage dtype, cast on the target device
        feats = feats.to(device).to(dtype)
        labels = classes.repeat_interleave(f).to(device)
        return feats, labels, targets.to(device)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, '
                f'queue_size={self.queue_size}, '
                f'feat_shape={self.feat_shape}, device={self.device_cfg!r}, '
                f'dtype={str(self.dtype).replace("torch.", "")}')
