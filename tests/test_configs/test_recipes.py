"""Recipe fidelity: every real config against the original recipe it
reproduces (tables in ``recipes/``, rendered into docs/recipes.md).

A key that is not a documented difference must equal the original, a
documented difference must hold its documented value: a later edit of a
batch size, lr, schedule, sampler, threshold, class count, test setting or
evaluation interval fails here until the table (and so the doc) says it."""
import glob
import os.path as osp
import sys

import pytest

from mmlt.utils.recipe import FACT_KEYS, check_row, recipe_facts

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
from recipes import load_tables  # noqa: E402

ORIGINALS, ROWS = load_tables()
REAL_CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                       recursive=True)
    if not any(s in p for s in ('/_base_/', '/toy/', '/benchmark/')))


def test_every_real_config_has_one_row():
    named = [r['config'] for r in ROWS]
    dup = sorted({c for c in named if named.count(c) > 1})
    assert not dup, f'configs with two rows: {dup}'
    missing = sorted(set(REAL_CONFIGS) - set(named))
    assert not missing, f'configs without a recipe row: {missing}'
    extra = sorted(set(named) - set(REAL_CONFIGS))
    assert not extra, f'rows for configs that do not exist: {extra}'


def test_originals_are_complete_and_used():
    used = {r['original'] for r in ROWS}
    for key, o in ORIGINALS.items():
        assert set(o['facts']) == set(FACT_KEYS), (
            key, sorted(set(FACT_KEYS) ^ set(o['facts'])))
        assert o.get('source'), key
        assert key in used, f'original {key} reproduced by no config'
    assert used <= set(ORIGINALS), sorted(used - set(ORIGINALS))


@pytest.mark.parametrize('row', ROWS, ids=[r['config'] for r in ROWS])
def test_config_matches_its_recipe(row):
    assert row.get('method'), row['config']
    original = ORIGINALS[row['original']]
    facts = recipe_facts(osp.join(ROOT, row['config']))
    # the effective batch is GPUs x images per GPU of the documented command
    assert facts['batch'] == facts['gpus'] * facts['imgs_per_gpu'], facts
    problems = check_row(facts, original['facts'], row.get('differs', {}))
    assert not problems, row['config'] + ':\n  ' + '\n  '.join(problems)


def test_recipes_doc_is_current():
    import importlib.util
    from mmlt.utils.doc_markers import check_section, markers
    spec = importlib.util.spec_from_file_location(
        'recipe_table', osp.join(ROOT, 'tools', 'misc', 'recipe_table.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    render = tool.render
    doc = osp.join(ROOT, 'docs', 'recipes.md')
    text = check_section(doc, 'recipes')
    begin, end = markers('recipes')
    body = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert body == render(ORIGINALS, ROWS).strip(), (
        'docs/recipes.md is stale: run python tools/misc/recipe_table.py '
        '--write-doc docs/recipes.md')
