"""Writing outputs without ever destroying evidence.

Two rules hold for every file or dataset bsmtrail writes (``convert``, ``reduce -w``,
``stats --plot``, ``gen``, ``write_trail``, ``to_parquet``):

* **An output is never an input.** :func:`check_output` refuses, before anything is
  opened for writing, an output that is one of the inputs (the same file through any
  path, symbolic or hard link), lies inside an input directory, or (for a dataset
  directory, which is replaced whole) contains an input.
* **Outputs appear whole or not at all.** :func:`atomic_file` and
  :func:`atomic_directory` write under a temporary name beside the target and rename it
  into place only when the writer finished without an exception. An error, Ctrl-C or
  SIGTERM (which the command line turns into an exception) removes the temporary and
  leaves a previous file at that path untouched.

Only regular files are replaced. A target that exists and is something else (``/dev/null``,
``/dev/stdout``, a FIFO, a shell's ``>(...)``) is written in place, because renaming over
it would replace the device node or pipe with a file (``-o /dev/null`` once turned a
machine's ``/dev/null`` into a regular file that every later command wrote into). A
symbolic link is followed: the file it names is replaced and the link kept.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = [
    "OutputError",
    "atomic_directory",
    "atomic_file",
    "check_output",
    "write_all",
]


class OutputError(ValueError):
    """An output that must not be written (it would overwrite or nest in an input, or its
    directory does not exist). Raised before anything is opened for writing."""


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _inside(child: str, parent: str) -> bool:
    """Whether real path ``child`` is ``parent`` or below it."""
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def check_output(
    output: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]],
    *,
    directory: bool = False,
) -> str:
    """``output`` as a string, once it is safe to write: not ``-`` (standard output is
    always safe), an existing directory only when ``directory`` (a dataset), its parent
    existing, and no input overwritten or nested (see the module's rules). ``inputs``
    are the paths as the user gave them (files or directories)."""
    out = os.fspath(output)
    if out == "-":
        return out
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise OutputError(f"{out}: no such directory: {parent}")
    if not directory and os.path.isdir(out):
        raise OutputError(f"{out}: is a directory (give a file name)")
    real_out = os.path.realpath(out)
    ident = _identity(out)
    for given in (os.fspath(p) for p in inputs):
        if given == "-":
            continue
        real_in = os.path.realpath(given)
        if (ident is not None and ident == _identity(given)) or real_out == real_in:
            raise OutputError(f"{out}: refusing to overwrite the input {given}")
        if os.path.isdir(given) and _inside(real_out, real_in):
            raise OutputError(f"{out}: refusing to write inside the input directory {given}")
        if directory and _inside(real_in, real_out):
            raise OutputError(
                f"{out}: refusing to replace a directory that holds the input {given}"
            )
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_special(path: str) -> bool:
    """Whether ``path`` exists (through links) and is neither a regular file nor a
    directory: a character or block device, FIFO or socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _temporary_beside(path: str, *, directory: bool) -> str:
    parent = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    if directory:
        return tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=parent)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".partial", dir=parent)
    os.close(fd)
    # mkstemp makes 0600; the finished file gets what open() would have given it.
    os.chmod(tmp, 0o666 & ~_umask())
    return tmp


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write the output to; on leaving without
    an exception it is renamed to ``path`` (replacing any previous file there in one
    step), otherwise removed. ``-`` is yielded unchanged (standard output), and so is an
    existing target that is not a regular file (a device or pipe, written in place); a
    symbolic link's target is the file replaced."""
    target = os.fspath(path)
    if target == "-" or _is_special(target):
        yield target
        return
    target = os.path.realpath(target)
    tmp = _temporary_beside(target, directory=False)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def _looks_like_dataset(path: str) -> bool:
    """Whether an existing directory holds only what a partitioned write leaves
    (``key=value`` subdirectories), so replacing it loses nothing else."""
    try:
        entries = os.listdir(path)
    except OSError:
        return False
    return all("=" in e and os.path.isdir(os.path.join(path, e)) for e in entries)


@contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[str]:
    """Like :func:`atomic_file` for a directory (a partitioned dataset): built in a
    temporary directory beside ``path`` and renamed into place when complete. A previous
    dataset there is replaced (moved aside, the new one renamed in, the old one removed);
    an existing directory holding anything else is refused with :class:`OutputError`."""
    target = os.fspath(path)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise OutputError(f"{target}: exists and is not a directory")
    if os.path.isdir(target) and not _looks_like_dataset(target):
        raise OutputError(
            f"{target}: directory holds files that are not a partitioned dataset; "
            "refusing to replace it (name a new or empty directory)"
        )
    tmp = _temporary_beside(target, directory=True)
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if os.path.isdir(target):
            old = _temporary_beside(target, directory=True)
            os.rmdir(old)
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to descriptor ``fd`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
