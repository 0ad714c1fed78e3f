"""Writing a file a user asked for (a report, an export) without harming anything else.

The target must not be the store or one of its files (followed through links), nor a directory or
any file that is not a regular one (a device, a FIFO). The content is written to a temporary file
beside the target, flushed to disk, and renamed into place: the target is either the old file,
whole, or the new one, whole; a symbolic link at the target is replaced, never written through.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from renovation.services.errors import BadRequest


class BadOutput(BadRequest):
    """An output path that cannot or must not be written (exit 2); nothing was written."""


def check_target(target: Path, protected: Sequence[Path]) -> None:
    """Refuse ``target`` if it is (or links to) a protected file, or exists as anything but a regular
    file or a link; or if its directory does not exist."""
    where = target.resolve()
    if any(str(place).startswith(("/dev/", "/proc/", "/sys/")) for place in (target.absolute(), where)):
        raise BadOutput(f"{target}: a device or system path; give a file name")
    if any(where == file.resolve() for file in protected):
        raise BadOutput(f"{target}: the store's own file; give another output file")
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise BadOutput(f"{target}: {error.strerror}") from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise BadOutput(f"{target}: not a regular file; give a file name")
    if mode is not None and stat.S_ISLNK(mode) and where.exists() and not where.is_file():
        raise BadOutput(f"{target}: not a regular file; give a file name")
    if not target.parent.is_dir():
        raise BadOutput(f"{target}: no such directory {target.parent}")


@contextmanager
def writing(target: Path, protected: Sequence[Path] = (), *, binary: bool = False) -> Iterator[IO[Any]]:
    """A text file (UTF-8; ``binary``: bytes) to write ``target``'s new content into; renamed into place
    when the block ends, removed if it fails. An OSError on the way (a full disk) is a BadOutput naming
    the target."""
    check_target(target, protected)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed below, then renamed)
            "wb" if binary else "w", encoding=None if binary else "utf-8", dir=target.parent,
            prefix=f".{target.name}.", suffix=".partial", delete=False
        )
    except OSError as error:
        raise BadOutput(f"{target}: {error.strerror}") from None
    partial = Path(handle.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, _mode_for(target))
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise BadOutput(f"{target}: {error.strerror or error}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """The permissions the file being replaced had (a private export stays private), else what a
    plain open() would give a new file."""
    try:
        if target.is_file():
            return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
