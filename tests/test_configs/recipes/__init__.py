"""Recipe tables: for every real config, the original recipe it reproduces
and every difference from it (value in mmlt, reason).

One module per family of original repositories. Each defines
``ORIGINALS = {key: dict(source=..., facts={...}, reported=...)}`` and
``ROWS = [dict(config=..., method=..., original=key, differs={fact:
(mmlt_value, why)}, fixed=[...], note=...)]``; facts use the keys and value
formats of ``mmlt.utils.recipe.FACT_KEYS``. ``tests/test_configs/
test_recipes.py`` resolves every config and checks it against its row;
``tools/misc/recipe_table.py --write-doc docs/recipes.md`` renders them.
"""
import importlib.util
import os.path as osp

HERE = osp.dirname(osp.abspath(__file__))
# the order of the sections in docs/recipes.md
FAMILIES = ('lvis_eqlv2', 'bags', 'decoupled', 'loce', 'efl', 'db')


def load_family(name):
    import sys
    if HERE not in sys.path:  # family modules import _common
        sys.path.insert(0, HERE)
    spec = importlib.util.spec_from_file_location(
        f'mmlt_recipes_{name}', osp.join(HERE, f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_tables():
    """(ORIGINALS merged over families, ROWS in family order)."""
    originals, rows = {}, []
    for name in FAMILIES:
        if not osp.isfile(osp.join(HERE, f'{name}.py')):
            continue
        mod = load_family(name)
        for k, v in mod.ORIGINALS.items():
            if k in originals:
                raise ValueError(f'{name}.py: original {k!r} defined twice')
            originals[k] = v
        for r in mod.ROWS:
            rows.append(dict(r, family=name))
    return originals, rows
