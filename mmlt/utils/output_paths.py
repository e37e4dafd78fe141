"""Checks for the files and folders mmlt's tools write.

Every tool that writes a dataset, a checkpoint or a report runs the same two
checks before it spends time computing anything:

* the destination can be written (:func:`check_writable_dir`,
  :func:`check_writable_file`): a missing parent is created, a parent that is
  a file, a folder without write permission or a read-only file system is an
  :class:`OutputNotWritableError` naming the path and the cause;
* something that is already there and differs from what the tool would
  write is not overwritten unless the user says so (the tool's ``--force``):
  :class:`OutputExistsError`.

Command-line tools print these errors as one line and exit with status 2
(:func:`cli_error`).
"""
import errno
import getpass
import os
import os.path as osp
import sys
import tempfile
from contextlib import contextmanager

__all__ = [
    'OutputPathError', 'OutputExistsError', 'OutputNotWritableError',
    'check_writable_dir', 'check_writable_file', 'writing', 'cli_error',
    'refuse_overwrite'
]


class OutputPathError(OSError):
    """A destination of a tool cannot or must not be written."""

    def __str__(self):  # OSError('msg') prints fine; keep it one message
        return str(self.args[0]) if self.args else ''


class OutputExistsError(OutputPathError, FileExistsError):
    """The destination holds something else; overwriting needs ``force``."""


class OutputNotWritableError(OutputPathError, PermissionError):
    """The destination (or the folder it goes into) cannot be written."""


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return f'uid {os.getuid()}'


def _not_writable(path: str, what: str, cause: str):
    return OutputNotWritableError(
        f'cannot write the {what} {path}: {cause}. Choose a writable '
        'location (e.g. under your home or work folder) or fix the '
        'permissions')


def _first_existing(path: str) -> str:
    probe = path
    while not osp.exists(probe):
        parent = osp.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe


def check_writable_dir(path: str, what: str = 'output folder',
                       create: bool = True, _named: str = None) -> str:
    """Make sure ``path`` is (or can become) a writable folder.

    With ``create`` the folder is created (with its parents) and a probe
    file is written and removed, which also catches read-only file systems
    and root-owned mounts that ``os.access`` reports as writable.

    Returns:
        str: the absolute path.
    Raises:
        OutputNotWritableError: naming ``path`` and the cause.
    """
    path = osp.abspath(path)
    named = _named or path  # the path the error names (a file's own)
    base = _first_existing(path)
    if not osp.isdir(base):
        raise _not_writable(named, what, f'{base} is a file, not a folder')
    if not os.access(base, os.W_OK | os.X_OK):
        raise _not_writable(
            named, what, f'{_user()} has no write permission on {base}')
    if not create:
        return path
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.mmlt-write-test-', dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise _not_writable(named, what, _cause(e)) from e
    return path


def check_writable_file(path: str, what: str = 'output file') -> str:
    """Make sure the file ``path`` can be written: its folder is created and
    probed (:func:`check_writable_dir`), and ``path`` is not a folder or an
    existing read-only file. Returns the absolute path."""
    path = osp.abspath(path)
    if osp.isdir(path):
        raise _not_writable(path, what,
                            'it is a folder; give a file name')
    check_writable_dir(osp.dirname(path), what, _named=path)
    if osp.exists(path) and not os.access(path, os.W_OK):
        raise _not_writable(
            path, what, f'the existing file is read-only for {_user()}')
    return path


def _cause(e: OSError) -> str:
    where = f' ({e.filename})' if getattr(e, 'filename', None) else ''
    if e.errno in (errno.EACCES, errno.EPERM):
        return f'permission denied{where} for {_user()}'
    if e.errno == errno.EROFS:
        return f'read-only file system{where}'
    if e.errno == errno.ENOSPC:
        return f'no space left on the device{where}'
    if e.errno == errno.ENOTDIR:
        return f'a part of the path is a file, not a folder{where}'
    return f'{e.strerror or e}{where}'


@contextmanager
def writing(path: str, what: str = 'output'):
    """Turn an ``OSError`` raised while writing under ``path`` into an
    :class:`OutputNotWritableError` that names ``path`` and the cause (the
    up-front checks cannot see e.g. a disk filling up)."""
    try:
        yield
    except OutputPathError:
        raise
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
                       errno.ENOTDIR, errno.EISDIR):
            raise _not_writable(osp.abspath(path), what, _cause(e)) from e
        raise


def refuse_overwrite(path: str, held: str, wanted: str = '',
                     flag: str = '--force') -> OutputExistsError:
    """The error for an existing ``path`` whose content (``held``) differs
    from what the call would write (``wanted``)."""
    msg = f'{path} already exists and {held}'
    if wanted:
        msg += f'; this call {wanted}'
    msg += (f'. Nothing was changed: choose another output path, or pass '
            f'{flag} to overwrite it')
    return OutputExistsError(msg)


def cli_error(e: BaseException, prog: str = None) -> int:
    """Print ``prog: error: <e>`` to stderr; return 2 (usage/input error)."""
    prog = prog or osp.basename(sys.argv[0]) or 'mmlt'
    print(f'{prog}: error: {e}', file=sys.stderr)
    return 2
