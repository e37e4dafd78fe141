"""FCN mask head with a cosine-similarity mask predictor, as used by both
stages of LOCE (Feng et al., "Exploring Classification Equilibrium in
Long-Tailed Object Detection", ICCV 2021; ``FCNNormMaskHead``)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.registry import MODELS

__all__ = ['FCNNormMaskHead', 'CosineConv1x1']

MASK_HEAD_KEY = 'model.roi_head.mask_head'


class CosineConv1x1(nn.Conv2d):
    r"""1x1 convolution on unit vectors (a per-pixel cosine classifier).

    .. math::
        \text{logit}_c(p) = s\,\Big\langle \frac{x(p)}{\max(\lVert x(p)
        \rVert_2, \epsilon)}, \frac{W_c}{\max(\lVert W_c\rVert_2,
        \epsilon)} \Big\rangle + b_c

    with norms over the channels.  A pixel whose features are all zero
    (ReLU output) gets ``b_c``.  The parameters are those of an
    ``nn.Conv2d(in, out, 1)`` (``weight`` [out, in, 1, 1], ``bias``), so a
    plain ``FCNMaskHead`` checkpoint loads into it and back.  The
    normalisation runs in fp32 under AMP (a fp16 norm of 256 channels can
    overflow).

    Args:
        in_channels, out_channels (int): as ``nn.Conv2d``.
        scale (float): s (20).
        eps (float): floor of both norms.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 scale: float = 20.0,
                 eps: float = 1e-12) -> None:
        super().__init__(in_channels, out_channels, 1, bias=True)
        self.scale = float(scale)
        self.eps = float(eps)

    def forward(self, x: Tensor) -> Tensor:
        x_n = F.normalize(x.float(), dim=1, eps=self.eps).to(x.dtype)
        w = self.weight.flatten(1)
        w_n = F.normalize(w.float(), dim=1, eps=self.eps).to(w.dtype)
        return F.conv2d(x_n * self.scale, w_n.view_as(self.weight), self.bias)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'scale={self.scale}, eps={self.eps}')


@MODELS.register_module()
class FCNNormMaskHead(FCNMaskHead):
    r"""``FCNMaskHead`` whose final 1x1 ``conv_logits`` is a
    :class:`CosineConv1x1` with scale ``s``:

    .. math::
        \text{logit}_c(p) = s \cdot \langle x(p)/\lVert x(p)\rVert_2,\,
        W_c/\lVert W_c\rVert_2 \rangle + b_c

    Convs, upsampling, targets, loss and ``predict_by_feat`` are mmdet's.
    ``class_agnostic=True`` gives one output channel as usual.

    Args:
        scale (float): s (LOCE: 20).
        eps (float): norm floor of :class:`CosineConv1x1`.
        **kwargs: ``FCNMaskHead`` arguments; ``predictor_cfg`` must stay
            the default ``dict(type='Conv')`` (this head replaces it).
    """

    def __init__(self,
                 scale: float = 20.0,
                 eps: float = 1e-12,
                 **kwargs) -> None:
        pred_cfg = kwargs.get('predictor_cfg', dict(type='Conv'))
        if dict(pred_cfg) not in (dict(type='Conv'), dict(type='Conv2d')):
            raise ValueError(
                f'FCNNormMaskHead replaces the mask predictor by a cosine '
                f'classifier; {MASK_HEAD_KEY}.predictor_cfg={pred_cfg} is '
                'not supported (leave it unset)')
        if not float(scale) > 0:
            raise ValueError(f'FCNNormMaskHead: {MASK_HEAD_KEY}.scale must '
                             f'be > 0, got {scale}')
        super().__init__(**kwargs)
        old = self.conv_logits
        self.conv_logits = CosineConv1x1(
            old.in_channels, old.out_channels, scale=scale, eps=eps)

    def check_stage1_checkpoint(self, checkpoint: dict, prefix: str,
                                filename: str, advice=None) -> None:
        """Check that ``checkpoint`` (a stage-1 checkpoint loaded for
        training, called by ``DecoupledRunner``) was trained with a normed
        mask head of the same scale at ``prefix`` (e.g.
        ``roi_head.mask_head``).

        Its weights cannot tell: a plain ``FCNMaskHead``'s ``conv_logits``
        has the same keys and shapes, but its logits were trained unnormed,
        so this head would turn them into other masks. The config saved in
        the checkpoint's ``meta['cfg']`` (mmengine writes it) can; without
        one the check is skipped with a warning.
        """
        from mmengine.config import Config
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
        text = (checkpoint.get('meta') or {}).get('cfg')
        where = f'model.{prefix}'
        if not text:
            logger.warning(
                f'{filename} records no config (meta.cfg), so mmlt cannot '
                f'check that it was trained with FCNNormMaskHead at {where}'
                ' as this config expects (LOCE stage 1)')
            return
        try:
            node = Config.fromstring(text, '.py').get('model')
            for part in prefix.split('.'):
                node = node[int(part)] if isinstance(
                    node, (list, tuple)) else node.get(part)
        except Exception as e:  # an unreadable config: no verdict
            logger.warning(f'could not read the config recorded in '
                           f'{filename} ({e}); {where} not checked')
            return
        head_type = node.get('type') if isinstance(node, dict) else None
        own = f'FCNNormMaskHead(scale={self.conv_logits.scale:g})'
        if head_type is not None:
            cls = MODELS.get(head_type) if isinstance(head_type, str) \
                else head_type
            if isinstance(cls, type) and issubclass(cls, FCNNormMaskHead):
                scale = float(node.get('scale', 20.0))
                if scale == self.conv_logits.scale:
                    return
                problem = (f'was trained with {where}.scale={scale:g}, '
                           f'this config uses {own}')
            else:
                problem = (f'was trained with a plain mask predictor '
                           f'({where}.type={head_type}), but this config '
                           f'uses {own}, whose cosine logits need a stage 1 '
                           'trained with it')
        else:
            problem = (f'was trained without a mask head at {where}, but '
                       f'this config trains {own} from it')
        from mmlt.engine.runner.decoupled_runner import Stage1MismatchError
        raise Stage1MismatchError(
            f'{filename} {problem}: it is not the stage-1 checkpoint of this '
            'LOCE stage 2 (stage 1 is Mask R-CNN with FCNNormMaskHead, e.g. '
            'configs/loce/mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py). '
            + (str(advice) if advice is not None else ''))
