"""Writing files for the user: never over an existing file without ``force``, never over
anything but a regular file, always atomically (a temporary file in the same folder, then a
rename), and no partial file when writing fails."""

from __future__ import annotations

import contextlib
import io
import os
import stat

from .errors import IOFailure, UsageError, os_reason


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


class NotRegularFile(OSError):
    """An input path that names something other than a regular file; ``kind`` says what."""

    def __init__(self, kind: str):
        super().__init__(f"is {kind}, not a regular file")
        self.kind = kind


def open_input(path: str) -> io.BufferedReader:
    """A regular file opened for reading (symbolic links followed), for every input path: a
    device (``/dev/zero`` never ends), a FIFO (opening one waits for a writer, perhaps for
    ever), a socket or a directory raises ``NotRegularFile``, found without blocking: the file
    is opened non-blocking and checked before anything is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(_kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_new_file(path: str, force: bool = False, option: str = "--force") -> None:
    """Refuse, before any work is done, a path ``write_new_file`` would refuse."""
    if not path:
        raise UsageError("'': expected a file name to write")
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory; expected a file name to write")
    if os.path.lexists(path):
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:  # a dangling symbolic link, a loop, a folder we cannot enter
            raise UsageError(
                f"{path}: is a symbolic link to a missing or unreachable file "
                f"({os_reason(exc)}); not written"
            ) from None
        if not stat.S_ISREG(mode):
            raise UsageError(
                f"{path}: is {_kind(mode)}, not a regular file; only regular files are "
                f"written or replaced"
            )
        if not force:
            raise UsageError(
                f"{path}: already exists; not overwritten (use {option} to replace it)"
            )
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise UsageError(f"{path}: the folder does not exist")


def check_new_files(paths: list[tuple[str, str | None]], force: bool = False) -> None:
    """All the files a command will write, checked before it runs: each as
    ``check_new_file`` does, and no two options naming the same file."""
    seen: dict[str, str] = {}
    for option, path in paths:
        if path is None:
            continue
        check_new_file(path, force)
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{option} {path}: the same file as {seen[real]}; give two names")
        seen[real] = f"{option} {path}"


def write_new_file(
    path: str, data: str | bytes, force: bool = False, option: str = "--force"
) -> None:
    """Write ``data`` to ``path``. An existing file is kept unless ``force`` is true, and is
    replaced only when it is a regular file."""
    check_new_file(path, force, option)
    folder = os.path.dirname(os.path.abspath(path))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        import tempfile  # only when a file is written: its import costs ~3 ms of start-up

        fd, tmp = tempfile.mkstemp(prefix=".backprop-", suffix=".tmp", dir=folder)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private (0600); ours is the user's
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        check_new_file(path, force, option)  # nothing else appeared there meanwhile
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path, option)
    except OSError as exc:
        raise IOFailure(f"{path}: cannot be written: {os_reason(exc)}") from None
    finally:
        # after a link, a failure or a signal; after a replace it is gone already
        if tmp is not None:
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
