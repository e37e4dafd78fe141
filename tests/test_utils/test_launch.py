import pytest
from mmengine.config import Config

from mmlt.utils.launch import (apply_eval_types, default_work_dir,
                               set_metric_output_dir, setup_launcher)


def _cfg():
    return Config(
        dict(
            val_evaluator=dict(type='LongTailLVISMetric', metric=['bbox']),
            test_evaluator=[
                dict(type='LongTailLVISMetric', metric=['bbox']),
                dict(type='DumpDetResults', out_file_path='x.pkl')
            ]))


def test_eval_types_map_onto_metric():
    cfg = _cfg()
    apply_eval_types(cfg, ['bbox', 'segm'])
    assert cfg.val_evaluator.metric == ['bbox', 'segm']
    assert cfg.test_evaluator[0].metric == ['bbox', 'segm']
    assert 'metric' not in cfg.test_evaluator[1]


def test_eval_types_rejects_unknown():
    with pytest.raises(ValueError, match='keypoints'):
        apply_eval_types(_cfg(), ['keypoints'])


def test_eval_without_metric_key_is_an_error():
    with pytest.raises(ValueError, match='no val/test evaluator'):
        apply_eval_types(Config(dict(val_evaluator=dict(type='X'))), ['bbox'])


def test_output_dir_only_for_mmlt_metrics():
    cfg = _cfg()
    set_metric_output_dir(cfg, '/w')
    assert cfg.val_evaluator.output_dir == '/w'
    assert cfg.test_evaluator[0].output_dir == '/w'
    assert 'output_dir' not in cfg.test_evaluator[1]


def test_work_dir_default():
    assert default_work_dir(Config(), 'configs/toy/a.py', None) == \
        './work_dirs/a'
    assert default_work_dir(Config(), 'a.py', 'w') == 'w'


def test_launcher_none_leaves_config():
    cfg = _cfg()
    setup_launcher(cfg, 'none')
    assert cfg.launcher == 'none' and 'model_wrapper_cfg' not in cfg


def test_slurm_without_gpu_is_explained(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='gloo'):
        setup_launcher(_cfg(), 'slurm')
