"""Nearest-class-mean (NCM) classifier on R-CNN RoI features (the NCM
baseline of Kang et al., ICLR 2020, as compared in BAGS, Li et al. CVPR
2020)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS

__all__ = ['NCMBBoxHead', 'ClassMeanAccumulator', 'INVALID_LOGIT']

#: logit of a class without a mean: softmax gives it exactly 0 in fp32
#: (exp(-1e4) underflows), so it never wins and never passes score_thr.
INVALID_LOGIT = -1e4
FEATURES = ('fc', 'conv')


class ClassMeanAccumulator:
    r"""Running per-class sums of features: ``mu_c = sum_{i: y_i = c} f_i /
    n_c`` (float64 sums, so the order of the batches does not matter).

    Args:
        num_rows (int): C + 1 (background last).
        dim (int): feature size D.
    """

    def __init__(self, num_rows: int, dim: int) -> None:
        self.sums = torch.zeros(num_rows, dim, dtype=torch.float64)
        self.counts = torch.zeros(num_rows, dtype=torch.int64)

    def update(self, feats: Tensor, labels: Tensor) -> None:
        """Add features [N, D] with row indices (labels) [N]."""
        if feats.shape[0] != labels.shape[0] or feats.dim() != 2:
            raise ValueError(f'features {tuple(feats.shape)} and labels '
                             f'{tuple(labels.shape)} do not match')
        if not labels.numel():
            return
        labels = labels.long().cpu()
        if labels.min() < 0 or labels.max() >= len(self.counts):
            raise ValueError(f'labels must lie in [0, {len(self.counts)})')
        self.sums.index_add_(0, labels, feats.detach().double().cpu())
        self.counts += torch.bincount(labels, minlength=len(self.counts))

    def means(self) -> Tensor:
        """[C + 1, D] float32 means; rows without features are 0."""
        n = self.counts.clamp(min=1).double()[:, None]
        return (self.sums / n).float()


@MODELS.register_module()
class NCMBBoxHead(Shared2FCBBoxHead):
    r"""Shared2FC bbox head whose classifier is a cosine nearest-class-mean.

    .. math::
        z_c = s \cdot \cos(f, \mu_c), \quad c = 0..C
        \qquad p = \mathrm{softmax}(z)

    over the C foreground means and a background mean ``mu_C``; ``p`` is
    what mmdet's ``predict_by_feat`` computes from the returned logits
    (softmax, as for the CE baseline). Classes whose mean was never
    observed (``class_counts == 0``) get the logit ``INVALID_LOGIT`` =
    -1e4, i.e. probability exactly 0. The box regression branch
    (``shared_fcs`` -> ``fc_reg``) is the stage-1 one, unchanged;
    ``fc_cls`` is kept (so stage-1 checkpoints load without missing keys)
    but not used.

    Features ``f`` (and the means, computed from the same features by
    ``tools/misc/ncm.py``):

    * ``feature='fc'``: output of the second shared fc + ReLU, the input of
      ``fc_cls`` (``fc_out_channels``: 1024 for R50-FPN, 256 for the toy).
    * ``feature='conv'``: the RoI-aligned FPN feature averaged over its
      7 x 7 bins (``in_channels``: 256 for R50-FPN, 64 for the toy).

    The means live in the buffers ``class_means`` [C + 1, D] (raw feature
    averages; cosine similarity normalises them) and ``class_counts``
    [C + 1] (#features averaged), saved in checkpoints. This is a test-time
    head: nothing in it is trained.

    Args:
        feature (str): 'fc' or 'conv'.
        scale (float): ``s``, the softmax temperature 1/T. Cosines of
            post-ReLU features lie in [0, 1]; s = 1 would give almost
            uniform probabilities (all near 1 / (C + 1)), so the default
            s = 20 (the scale of cosine classifiers in detection, e.g.
            TFA; LOCE's normed mask head) lets the top class stand out.
        *args, **kwargs: as ``Shared2FCBBoxHead``; ``loss_cls`` must be a
            softmax loss with C + 1 outputs (the default CE).
    """

    def __init__(self,
                 *args,
                 feature: str = 'fc',
                 scale: float = 20.0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if feature not in FEATURES:
            raise ValueError(f"NCMBBoxHead: feature must be 'fc' or 'conv', "
                             f'got {feature!r} (model.roi_head.bbox_head.'
                             'feature)')
        if self.custom_cls_channels:
            raise ValueError(
                'NCMBBoxHead scores C + 1 classes with a softmax; '
                'model.roi_head.bbox_head.loss_cls must be a softmax loss '
                '(e.g. CrossEntropyLoss), not one with custom channels')
        if self.num_shared_fcs == 0 and feature == 'fc':
            raise ValueError('NCMBBoxHead(feature=fc) needs the shared fcs')
        self.feature = feature
        self.scale = float(scale)
        dim = self.fc_out_channels if feature == 'fc' else self.in_channels
        self.feat_dim = int(dim)
        k = self.num_classes + 1
        self.register_buffer('class_means', torch.zeros(k, self.feat_dim))
        self.register_buffer('class_counts', torch.zeros(k,
                                                         dtype=torch.int64))

    # ------------------------------------------------------------ features
    def _fc_feature(self, x: Tensor) -> Tensor:
        """Shared2FC trunk: (avg pool) -> flatten -> fc -> ReLU -> fc ->
        ReLU (the input of fc_cls / fc_reg)."""
        if self.with_avg_pool:
            x = self.avg_pool(x)
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = self.relu(fc(x))
        return x

    def ncm_features(self, x: Tensor) -> Tensor:
        """The feature NCM classifies: [N, D] from RoI features [N, C, h,
        w]."""
        if self.feature == 'conv':
            return x.flatten(2).mean(2)
        return self._fc_feature(x)

    # ------------------------------------------------------------- scores
    @property
    def valid_classes(self) -> Tensor:
        """[C + 1] bool: classes that have a mean."""
        return self.class_counts > 0

    def ncm_logits(self, feat: Tensor) -> Tensor:
        """``s * cos(f, mu_c)`` [N, C + 1]; classes without a mean get
        ``INVALID_LOGIT``."""
        f = F.normalize(feat.float(), dim=1)
        mu = F.normalize(self.class_means.float(), dim=1)
        logits = self.scale * f @ mu.t()
        return logits.masked_fill(~self.valid_classes[None], INVALID_LOGIT)

    def set_class_means(self,
                        means: Tensor,
                        counts: Optional[Tensor] = None) -> None:
        """Copy [C + 1, D] means (and per-class feature counts; default:
        1 for rows with a non-zero mean) into the buffers."""
        if tuple(means.shape) != tuple(self.class_means.shape):
            raise ValueError(
                f'NCMBBoxHead: means must have shape '
                f'{tuple(self.class_means.shape)} (C + 1 classes x '
                f'{self.feature} feature size), got {tuple(means.shape)}')
        if counts is None:
            counts = (means.abs().sum(1) > 0).long()
        self.class_means.copy_(means)
        self.class_counts.copy_(counts.long())

    def _check_means(self) -> None:
        if not bool(self.class_counts.any()):
            raise RuntimeError(
                'NCMBBoxHead has no class means (roi_head.bbox_head.'
                'class_counts are all 0): the checkpoint is not an NCM '
                'checkpoint. Build one with `tools/misc/ncm.py CONFIG '
                f'STAGE1_CKPT --feature {self.feature} --out NCM.pth` and '
                'test with NCM.pth')
        zero = self.valid_classes & (self.class_means.abs().sum(1) == 0)
        if bool(zero.any()):
            # e.g. a checkpoint of the other feature type whose means were
            # skipped for their shape while the counts loaded
            raise RuntimeError(
                f'NCMBBoxHead: {int(zero.sum())} classes have a feature '
                'count but an all-zero mean; the checkpoint\'s class_means '
                'did not load (feature type or size differs from '
                f"feature={self.feature!r}, D={self.feat_dim}?). Rebuild it "
                'with tools/misc/ncm.py for this config')

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """(cls_score [N, C + 1] = NCM logits, bbox_pred of fc_reg)."""
        self._check_means()
        h = self._fc_feature(x)
        feat = h if self.feature == 'fc' else self.ncm_features(x)
        cls_score = self.ncm_logits(feat)
        bbox_pred = self.fc_reg(h) if self.with_reg else None
        return cls_score, bbox_pred

    def extra_repr(self) -> str:
        return (f'feature={self.feature!r}, scale={self.scale}, '
                f'feat_dim={self.feat_dim}, '
                f'classes_with_mean={int(self.valid_classes.sum())}')
