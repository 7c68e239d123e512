"""Read a file a student handed in, without trusting it: no links, no devices, a size cap.

One reader for every place that opens submitted files (the engine's extraction, archive
staging, ``make submit``, the student bundle); each caller adds its own advice to the reason it gets.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnsafeFile(ValueError):
    """The file cannot be read safely; ``str(exc)`` says why, naming the file."""


def read_regular_file(path: Path, limit: int, label: str | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, not reached through a link.

    ``O_NOFOLLOW`` refuses a link at the last component; ``O_NONBLOCK`` keeps a FIFO from
    hanging the open; the size is checked on the open descriptor, so the file cannot be
    swapped between the check and the read.
    """
    name = label or Path(path).name
    # Windows has neither flag (a student bundle runs there): a link is refused by lstat instead.
    nofollow, nonblock = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_NONBLOCK", 0)
    if not nofollow and Path(path).is_symlink():
        raise UnsafeFile(f"{name} is a symbolic link")
    try:
        fd = os.open(path, os.O_RDONLY | nofollow | nonblock | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(f"{name} is a symbolic link") from None
        raise UnsafeFile(f"{name} could not be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"{name} is not a regular file")
        if st.st_size > limit:
            raise UnsafeFile(f"{name} is {st.st_size / 2**20:.1f} MiB: far too large "
                             f"(the limit is {limit / 2**20:.0f} MiB)")
        return f.read(limit + 1)[:limit]
