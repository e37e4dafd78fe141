"""mmlt: long-tailed recognition methods for MMDetection 3.x.

Importing this package registers every mmlt module in mmdet's registries, so
configs switch it on with ``custom_imports=dict(imports=['mmlt'])``.
"""
from .version import __version__
from . import utils  # noqa: F401  (first: installs the checkpoint fix)
from . import datasets, engine, evaluation, models  # noqa: F401

__all__ = ['__version__']
