"""Generated sections of the docs: text between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` is written by the tool that measured it; the rest of
the file is kept."""
import os.path as osp


def markers(name: str):
    return f'<!-- {name}:begin -->', f'<!-- {name}:end -->'


def check_section(doc: str, name: str) -> str:
    """The text of ``doc``; ``SystemExit`` naming the file and the markers
    to add when the doc or its markers are missing (a tool must not guess
    where numbers go). Tools call it before measuring, too."""
    begin, end = markers(name)
    if not osp.isfile(doc):
        raise SystemExit(f'{doc} does not exist; create it with the lines '
                         f'{begin} and {end} where the table goes')
    with open(doc) as f:
        text = f.read()
    if text.count(begin) != 1 or text.count(end) != 1 or \
            text.index(begin) > text.index(end):
        raise SystemExit(f'{doc} needs exactly one {begin} followed by one '
                         f'{end}')
    return text


def write_section(doc: str, name: str, body: str) -> None:
    """Replace the section ``name`` of ``doc`` with ``body``."""
    text = check_section(doc, name)
    begin, end = markers(name)
    pre, rest = text.split(begin, 1)
    _, post = rest.split(end, 1)
    with open(doc, 'w') as f:
        f.write(f'{pre}{begin}\n{body.strip()}\n{end}{post}')
