from .metrics import *  # noqa: F401,F403
from .validate import (InvalidDetectionsError,  # noqa: E402,F401
                       validate_preds, validate_results, validate_scores)
