"""The COCO-started LVIS v0.5 stage-1 configs of the BAGS baselines: the
mmdet COCO detector of the same architecture (built from mmdet's own COCO
config, i.e. the keys and shapes of the model-zoo checkpoint) fits the mmlt
model through the config's CheckpointInitHook: only the class-count layers
are re-initialised, every other weight loads."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CASES = [
    ('configs/lvis/faster-rcnn_r50_fpn_1x_lvis-v0.5.py',
     'mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
     {'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg'}, False),
    ('configs/lvis/cascade-mask-rcnn_x101-64x4d_fpn_1x_lvis-v0.5.py',
     'mmdet::cascade_rcnn/cascade-mask-rcnn_x101-64x4d_fpn_20e_coco.py',
     {f'roi_head.bbox_head.{i}.fc_cls' for i in range(3)} |
     {f'roi_head.mask_head.{i}.conv_logits' for i in range(3)}, False),
    ('configs/lvis/htc-without-semantic_x101-64x4d-dconv-c3-c5_fpn_'
     'ms-400-1400-20e_lvis-v0.5.py',
     'mmdet::htc/htc_x101-64x4d-dconv-c3-c5_fpn_ms-400-1400-16xb1-20e_coco.py',
     {f'roi_head.bbox_head.{i}.fc_cls' for i in range(3)} |
     {f'roi_head.mask_head.{i}.conv_logits' for i in range(3)}, True),
]


@pytest.mark.parametrize('config,coco,layers,semantic', CASES)
def test_coco_checkpoint_fits(config, coco, layers, semantic):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmlt  # noqa: F401
    from mmdet.registry import MODELS
    from mmlt.engine.hooks.checkpoint_init_hook import filter_init_state
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, config))
    hooks = [h for h in cfg.custom_hooks
             if h['type'] == 'CheckpointInitHook']
    assert len(hooks) == 1 and cfg.get('load_from') is None
    hook = hooks[0]
    assert hook['checkpoint'].startswith('https://download.openmmlab.com/')
    import mmdet
    ccfg = Config.fromfile(
        osp.join(mmdet.__path__[0], '.mim', 'configs',
                 coco[len('mmdet::'):]))
    for c in (cfg, ccfg):
        c.model.backbone.init_cfg = None
    own = MODELS.build(cfg.model).state_dict()
    state = MODELS.build(ccfg.model).state_dict()  # COCO shapes, 80 classes
    kept, reinit, dropped = filter_init_state(
        state, own, hook['reinit'], hook.get('drop', ()))
    assert {k.rsplit('.', 1)[0] for k in reinit} == layers
    assert bool(dropped) == semantic
    assert all(k.startswith('roi_head.semantic_') for k in dropped)
