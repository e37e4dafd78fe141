"""COCO-format detection datasets whose classes come from the json itself
(OpenImages challenge set converted by openimages2coco, other long-tailed
sets): no class list to keep in sync with the annotation file."""
import json
from typing import List

from mmengine.fileio import get_local_path

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

__all__ = ['CocoJsonClassesDataset']


@DATASETS.register_module()
class CocoJsonClassesDataset(CocoDataset):
    """mmdet's ``CocoDataset`` with ``metainfo['classes']`` read from the
    annotation file's ``categories``, label i = the i-th entry of that list
    (the order in which ``CocoDataset`` / pycocotools list category ids).

    Category names need not be unique (the OpenImages challenge set has two
    'Mouse' and two 'Bench' entries): labels follow the ids, so duplicates
    stay distinct classes.  An explicit ``metainfo=dict(classes=...)``
    still selects categories by name, as in mmdet.
    """

    METAINFO = {'classes': None, 'palette': None}

    def __init__(self, *args, metainfo=None, **kwargs) -> None:
        self._classes_from_json = not (metainfo or {}).get('classes')
        super().__init__(*args, metainfo=metainfo, **kwargs)

    def _json_categories(self) -> List[dict]:
        with get_local_path(self.ann_file,
                            backend_args=self.backend_args) as path:
            with open(path) as f:
                cats = json.load(f).get('categories')
        if not isinstance(cats, list) or not cats:
            raise ValueError(
                f'{self.ann_file}: no "categories" list; a COCO-format '
                'detection json needs one (id, name) entry per class')
        for i, c in enumerate(cats):
            if not isinstance(c, dict) or 'id' not in c or 'name' not in c:
                raise ValueError(f'{self.ann_file}: categories[{i}] needs '
                                 f'"id" and "name", got {c!r}')
        return cats

    def load_data_list(self) -> List[dict]:
        if not self._classes_from_json:
            return super().load_data_list()
        cats = self._json_categories()
        self._metainfo['classes'] = tuple(c['name'] for c in cats)
        ids = [c['id'] for c in cats]
        # CocoDataset selects categories by name; with duplicate names that
        # is ambiguous, so the ids are taken as listed
        api = self.COCOAPI

        class _ById(api):

            def get_cat_ids(self, *a, **k):
                return list(ids)

        self.COCOAPI = _ById
        try:
            return super().load_data_list()
        finally:
            del self.COCOAPI
