# Decoupled stage 2: load a stage-1 checkpoint (set `load_from`) and train
# only the classifier. Every parameter whose name matches none of the
# `trainable` regular expressions (re.match on the full parameter name) is
# frozen before the model is wrapped in DDP, left out of the optimizer, and
# its BatchNorm/Dropout modules run in eval mode. Keys matching `reinit` are
# dropped from the `load_from` checkpoint, so those layers keep their fresh
# initialisation (cRT, BAGS); `reinit` does not apply to `--resume`.
# The pattern covers single-stage heads (`roi_head.bbox_head.fc_cls`) and
# every stage of Cascade/HTC heads (`roi_head.bbox_head.2.fc_cls`).
runner_type = 'DecoupledRunner'
decoupled = dict(
    trainable=[r'roi_head\.bbox_head\.(\d+\.)?fc_cls\.'],
    reinit=[])
# (A `model` key here would clash with the model base in multi-base configs:
# stage-2 configs set `model.backbone.init_cfg=None` themselves, since every
# frozen weight comes from `load_from`.)
