"""Facts shared by many originals: mmdet 2.x defaults the original configs
inherit (``configs/_base_`` of mmdet 2.x), written in the vocabulary of
``mmlt.utils.recipe.FACT_KEYS``. Family tables build on them with
``derive``."""

def derive(base, **changes):
    """A copy of ``base`` with ``changes``; unknown keys are an error."""
    unknown = set(changes) - set(base)
    if unknown:
        raise KeyError(f'not fact keys: {sorted(unknown)}')
    out = dict(base)
    out.update(changes)
    return out
