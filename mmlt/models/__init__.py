from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses_all

__all__ = list(_losses_all)
from . import layers, roi_heads  # noqa: F401,E402
from . import classifiers, necks, task_modules  # noqa: F401,E402
