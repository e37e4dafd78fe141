import os.path as osp

import pytest

from mmlt.testing import (get_detector_cfg, mmdet_config_path,
                          mmlt_config_path)


def test_mmdet_config_in_pip_install():
    path = mmdet_config_path('mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    assert osp.isfile(path)


def test_detector_cfg_from_mmlt_and_mmdet():
    toy = get_detector_cfg('toy/mask-rcnn_r18_fpn_toy_ce.py')
    assert toy.roi_head.bbox_head.num_classes == 60
    lvis = get_detector_cfg('lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py')
    assert lvis.roi_head.bbox_head.num_classes == 1203
    coco = get_detector_cfg('mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    assert coco.roi_head.bbox_head.num_classes == 80


def test_missing_config_is_named():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        mmlt_config_path('nope.py')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        mmdet_config_path('nope.py')
