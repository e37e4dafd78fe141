"""Transforms of the multi-label classification pipeline (no torchvision).

The Distribution-Balanced pipeline is built from mmcv/mmdet transforms
(``LoadImageFromFile``, ``PhotoMetricDistortion``, ``Resize``,
``RandomFlip``) plus the two below: the original's random crop (each side
a uniform fraction in [min_ratio, 1] of the image, aspect ratio of the
patch in [0.5, 2], random position; labels are image-level and kept) and
a packer that hands the image and its label indices to the model.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mmdet.registry import TRANSFORMS

__all__ = ['RandomRatioCrop', 'PackMultiLabelInputs']


@TRANSFORMS.register_module()
class RandomRatioCrop(BaseTransform):
    """Crop a random patch whose sides are ``U(min_ratio, 1)`` of the
    image's, with height/width in ``aspect_range``; up to ``max_tries``
    draws, else the image is left whole.

    Required keys: ``img``. Modified: ``img``, ``img_shape``.

    Args:
        min_ratio (float): smallest side fraction (0.8 in the DB configs).
        aspect_range (tuple[float]): allowed patch h / w.
        max_tries (int): draws before giving up.
    """

    def __init__(self,
                 min_ratio: float = 0.8,
                 aspect_range: Tuple[float, float] = (0.5, 2.0),
                 max_tries: int = 50) -> None:
        if not 0 < min_ratio <= 1:
            raise ValueError(f'min_ratio must lie in (0, 1], got {min_ratio}')
        self.min_ratio = float(min_ratio)
        self.aspect_range = tuple(float(a) for a in aspect_range)
        self.max_tries = int(max_tries)

    def _patch(self, h: int, w: int) -> Optional[Tuple[int, int, int, int]]:
        lo, hi = self.aspect_range
        for _ in range(self.max_tries):
            new_w = np.random.uniform(self.min_ratio * w, w)
            new_h = np.random.uniform(self.min_ratio * h, h)
            if not lo <= new_h / new_w <= hi:
                continue
            left = np.random.uniform(0, w - new_w)
            top = np.random.uniform(0, h - new_h)
            x0, y0 = int(left), int(top)
            x1, y1 = int(left + new_w), int(top + new_h)
            if x1 > x0 and y1 > y0:
                return x0, y0, x1, y1
        return None

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        patch = self._patch(h, w)
        if patch is not None:
            x0, y0, x1, y1 = patch
            img = img[y0:y1, x0:x1]
            results['img'] = img
            results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(min_ratio={self.min_ratio}, '
                f'aspect_range={self.aspect_range}, '
                f'max_tries={self.max_tries})')


@TRANSFORMS.register_module()
class PackMultiLabelInputs(BaseTransform):
    """Pack ``img`` (HWC, BGR) as a CHW tensor in ``inputs`` and the label
    indices as ``data_samples.gt_label`` (int64 tensor).

    ``data_samples`` is an ``mmengine.structures.BaseDataElement`` whose
    metainfo holds ``meta_keys`` found in the results.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_id', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'scale_factor', 'flip')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1)))
        labels = np.asarray(results.get('gt_label', ()), dtype=np.int64)
        sample = BaseDataElement(
            metainfo={k: results[k] for k in self.meta_keys if k in results})
        sample.gt_label = torch.from_numpy(labels.reshape(-1).copy())
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
