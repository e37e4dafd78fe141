"""Compare real configs with the original recipes they reproduce, and
write docs/recipes.md from the recipe tables.

    # facts of a config, and its differences from the original of its row
    python tools/misc/recipe_table.py configs/eql/mask-rcnn_r50_fpn_eql_1x_lvis-v1.py
    # facts against a named original (while writing a table row)
    python tools/misc/recipe_table.py CONFIG --original eqlv2/eql_r50_8x2_1x
    # every row of every table (what tests/test_configs/test_recipes.py does)
    python tools/misc/recipe_table.py --check
    # regenerate the tables of docs/recipes.md (between recipes markers)
    python tools/misc/recipe_table.py --write-doc docs/recipes.md

The tables live in tests/test_configs/recipes/ (one module per family of
original repositories); facts and their formats in mmlt/utils/recipe.py.
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TABLES = osp.join(ROOT, 'tests', 'test_configs')


def _tables():
    sys.path.insert(0, TABLES)
    from recipes import load_tables
    return load_tables()


def _cell(v):
    if v is None:
        return '—'
    if isinstance(v, float):
        v = f'{v:g}'
    s = str(v).replace('|', '\\|').replace('\n', ' ')
    return f'`{s}`'


def _text(s):
    return str(s).replace('|', '\\|').replace('\n', ' ').strip()


def render(originals, rows):
    """Markdown of all tables, sections in table order by method."""
    methods = []
    for r in rows:
        if r['method'] not in methods:
            methods.append(r['method'])
    out = []
    for m in methods:
        mrows = [r for r in rows if r['method'] == m]
        out.append(f'### {m}\n')
        out.append('| mmlt config | reproduces (original config) | '
                   'reported by the original | differences |')
        out.append('|---|---|---|---|')
        for r in mrows:
            o = originals[r['original']]
            n = len(r.get('differs', {}))
            out.append(
                f"| `{r['config']}` | {_text(o['source'])} | "
                f"{_text(o.get('reported') or '—')} | "
                f"{n if n else 'none'} |")
        out.append('')
        for r in mrows:
            differs = r.get('differs', {})
            fixed = r.get('fixed', [])
            note = r.get('note')
            if not (differs or fixed or note):
                continue
            out.append(f"**`{r['config']}`**" + (
                f' — {_text(note)}' if note else ''))
            out.append('')
            if differs:
                orig = originals[r['original']]['facts']
                out.append('| fact | mmlt | original | why |')
                out.append('|---|---|---|---|')
                for k, (v, why) in differs.items():
                    out.append(f'| {k} | {_cell(v)} | {_cell(orig.get(k))} '
                               f'| {_text(why)} |')
                out.append('')
            if fixed:
                out.append('Fixed in the recipe audit:')
                out += [f'- {_text(x)}' for x in fixed]
                out.append('')
    return '\n'.join(out).strip() + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='*', help='configs to show')
    p.add_argument('--original', help='compare with this original (key of '
                   'ORIGINALS in the recipe tables)')
    p.add_argument('--check', action='store_true',
                   help='check every row of every table')
    p.add_argument('--write-doc', metavar='DOC',
                   help='write the tables into DOC between '
                   '<!-- recipes:begin --> and <!-- recipes:end -->')
    a = p.parse_args(argv)
    if not (a.configs or a.check or a.write_doc):
        p.error('name configs, --check or --write-doc')
    import warnings
    warnings.filterwarnings('ignore')
    sys.path.insert(0, ROOT)
    from mmlt.utils.recipe import check_row, config_name, recipe_facts
    originals, rows = _tables()
    by_config = {r['config']: r for r in rows}
    status = 0
    for c in a.configs:
        facts = recipe_facts(c)
        name = config_name(osp.abspath(c))
        row = by_config.get(name)
        key = a.original or (row and row['original'])
        print(f'== {name}' + (f'  (original: {key})' if key else ''))
        for k, v in facts.items():
            print(f'  {k}: {v!r}')
        if key:
            if key not in originals:
                sys.exit(f'error: no original {key!r}; known: '
                         f'{", ".join(sorted(originals))}')
            differs = row.get('differs', {}) if row and not a.original \
                else {}
            for msg in check_row(facts, originals[key]['facts'], differs):
                print('  DIFF ' + msg)
                status = 1
    if a.check:
        from tqdm import tqdm
        bad = 0
        for r in tqdm(rows, desc='configs', unit='cfg', file=sys.stderr):
            facts = recipe_facts(osp.join(ROOT, r['config']))
            probs = check_row(facts, originals[r['original']]['facts'],
                              r.get('differs', {}))
            for msg in probs:
                print(f"{r['config']}: {msg}")
            bad += bool(probs)
        print(f'{len(rows) - bad} of {len(rows)} configs match their '
              'recipe rows')
        status = status or int(bad > 0)
    if a.write_doc:
        from mmlt.utils.doc_markers import write_section
        write_section(a.write_doc, 'recipes', render(originals, rows))
        print(f'wrote the recipe tables of {len(rows)} configs into '
              f'{a.write_doc}')
    return status


if __name__ == '__main__':
    sys.exit(main())
