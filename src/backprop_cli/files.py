"""Writing files for the user: never over an existing file without ``force``, always atomically
(a temporary file in the same folder, then a rename), and no partial file when writing fails."""

from __future__ import annotations

import contextlib
import os
import tempfile

from .errors import UsageError


def check_new_file(path: str, force: bool = False, option: str = "--force") -> None:
    """Refuse, before any work is done, a path ``write_new_file`` would refuse."""
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory; expected a file name to write")
    if os.path.exists(path) and not force:
        raise UsageError(f"{path}: already exists; not overwritten (use {option} to replace it)")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise UsageError(f"{path}: the folder does not exist")


def write_new_file(
    path: str, data: str | bytes, force: bool = False, option: str = "--force"
) -> None:
    """Write ``data`` to ``path``. An existing file is kept unless ``force`` is true."""
    check_new_file(path, force, option)
    folder = os.path.dirname(os.path.abspath(path))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=".backprop-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private (0600); ours is the user's
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path, option)
    finally:
        # after a link or a failure; after a replace it is gone already
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _link_new(tmp: str, path: str, option: str) -> None:
    """Give the finished file its name only if the name is still free: a file another process
    created since the check above is not overwritten either."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise UsageError(
            f"{path}: already exists; not overwritten (use {option} to replace it)"
        ) from None
    except OSError:  # a file system without hard links: the check above has to do
        if os.path.exists(path):
            raise UsageError(
                f"{path}: already exists; not overwritten (use {option} to replace it)"
            ) from None
        os.replace(tmp, path)
