"""Which config produces the stage-1 checkpoint of a two-stage config, and
how to train it: the advice of mmlt's errors about a missing or wrong
``load_from`` (decoupled stage 2, BAGS, LOCE stage 2) and of the post-hoc
tools (tau-norm, NCM).

Two conventions of mmlt's configs find it:

* ``load_from = 'work_dirs/<name>/epoch_N.pth'``: ``tools/train.py`` writes
  the checkpoints of ``configs/**/<name>.py`` to ``work_dirs/<name>/``, so
  that config is stage 1 (real LVIS configs);
* otherwise the first config in the ``_base_`` chain that is not under
  ``configs/_base_`` and inherits no ``load_from`` (the toy stage-2 configs
  inherit their stage-1 config).
"""
import glob
import os.path as osp
import re
from typing import Optional

__all__ = ['repo_root', 'stage1_config', 'stage1_advice']

_WORK_DIR_RE = re.compile(r'^(?:\./)?work_dirs/([^/]+)/')


def repo_root() -> str:
    """The folder holding ``mmlt/`` and (in a checkout) ``configs/``."""
    import mmlt
    return osp.dirname(osp.dirname(osp.abspath(mmlt.__file__)))


def _rel(path: str) -> str:
    root = repo_root()
    path = osp.abspath(path)
    return osp.relpath(path, root) if path.startswith(root + osp.sep) \
        else path


def _is_stage2(path: str) -> bool:
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return False
    # stage 2 / post-hoc: loads a checkpoint, or needs the NCM tool's one
    return re.search(r'^(load_from|posthoc)\s*=', text, re.M) is not None \
        or "'NCMBBoxHead'" in text


def _chain_sets_load_from(path: str, depth: int = 0) -> bool:
    """``path`` or a config it inherits sets ``load_from``."""
    if _is_stage2(path):
        return True
    return depth < 20 and any(
        _chain_sets_load_from(b, depth + 1) for b in _bases(path))


def _bases(path: str) -> list:
    from mmengine.config import Config
    try:
        names = Config._get_base_files(path)
    except Exception:  # unreadable or non-py config: no chain to follow
        return []
    return [osp.normpath(osp.join(osp.dirname(path), n)) for n in names]


def stage1_config(config_file: Optional[str],
                  load_from: Optional[str] = None) -> Optional[str]:
    """Path (relative to the repository when inside it) of the config that
    trains the stage-1 checkpoint ``load_from`` of ``config_file``; None
    when neither convention finds one."""
    if load_from:
        m = _WORK_DIR_RE.match(str(load_from))
        if m:
            hits = sorted(
                glob.glob(
                    osp.join(repo_root(), 'configs', '**',
                             f'{m.group(1)}.py'),
                    recursive=True))
            hits = [h for h in hits if '/_base_/' not in h]
            if hits:
                return _rel(hits[0])
    if not config_file or not osp.isfile(config_file):
        return None
    todo, seen = _bases(osp.abspath(config_file)), set()
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if f'{osp.sep}_base_{osp.sep}' in path:
            continue
        if not _chain_sets_load_from(path):
            return _rel(path)
        todo = _bases(path) + todo  # depth first, in _base_ order
    return None


def _script_for(load_from: str) -> Optional[str]:
    """A tools/benchmark script that trains stage 1 and puts its checkpoint
    at ``load_from`` (it names the path)."""
    for sh in sorted(glob.glob(osp.join(repo_root(), 'tools', 'benchmark',
                                        '*.sh'))):
        try:
            with open(sh) as f:
                if load_from in f.read():
                    return _rel(sh)
        except OSError:
            pass
    return None


def stage1_advice(config_file: Optional[str],
                  load_from: Optional[str],
                  override: Optional[str] = None) -> str:
    """How to produce the stage-1 checkpoint ``load_from`` of
    ``config_file``, as a few sentences; ``override`` is how to name
    another checkpoint instead (default: ``--cfg-options load_from``)."""
    cfg1 = stage1_config(config_file, load_from)
    override = override or ('start from a stage-1 checkpoint you have: '
                            '--cfg-options load_from=PATH')
    if cfg1 is None:
        script = _script_for(str(load_from)) if load_from else None
        if script:
            return (f'{script} trains the stage-1 model and puts its '
                    f'checkpoint at {load_from}; or {override}')
        return ('Train the stage-1 model of this config first (its '
                f'checkpoint goes to `load_from`), or {override}')
    m = _WORK_DIR_RE.match(str(load_from or ''))
    if m and osp.splitext(osp.basename(cfg1))[0] == m.group(1):
        return (f'Train stage 1 first: ./tools/dist_train.sh {cfg1} '
                f'NUM_GPUS (one process: python tools/train.py {cfg1}); '
                f'its checkpoints land in work_dirs/{m.group(1)}/, the '
                f'last one at the end of its schedule. Or {override}')
    msg = f'The stage-1 config is {cfg1}. '
    if load_from:
        d = osp.join(osp.dirname(str(load_from)), 'stage1')
        msg += (f'Train it: ./tools/dist_train.sh {cfg1} NUM_GPUS '
                f'--work-dir {d} (one process: python tools/train.py {cfg1} '
                f'--work-dir {d}), then link its last checkpoint: ln -sfn '
                f'"$(realpath "$(cat {d}/last_checkpoint)")" {load_from}')
        script = _script_for(str(load_from))
        if script:
            msg += f' ({script} does both)'
        msg += f'. Or {override}'
    else:
        name = osp.splitext(osp.basename(cfg1))[0]
        msg += (f'Train it: ./tools/dist_train.sh {cfg1} NUM_GPUS (one '
                f'process: python tools/train.py {cfg1}); its checkpoints '
                f'land in work_dirs/{name}/. Then, or if you have one, '
                + override)
    return msg
