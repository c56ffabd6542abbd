"""One writer per run directory: a lock that the operating system releases
with its holder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl  # Linux and macOS (every POSIX system)
# native Windows, where the guide runs under WSL instead
except ModuleNotFoundError:
    fcntl = None

# held by the one process training in a run directory
LOCK_FILE = "train.lock"


class LockError(ValueError):
    """The run directory is held by another process, or cannot be written to
    at all."""


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the lock of `run_dir` while training: one writer per run
    directory.

    The lock is an `fcntl` lock on `run_dir/train.lock`, which holds the
    holder's PID. The operating system releases it when the process ends,
    however it ends, so a killed run never leaves a lock behind that blocks
    the next one.

    Args:
        run_dir: the run directory, which must exist.

    Yields:
        Nothing; the lock is held until the `with` block ends.

    Raises:
        LockError: another process holds the lock, `run_dir` cannot be
            written to, or the system lacks `fcntl` (native Windows).
    """
    if fcntl is None:
        raise LockError(
            "training needs the POSIX file locks of Linux or macOS, "
            "which native Windows lacks; "
            "on Windows, run the guide under WSL (Windows Subsystem "
            "for Linux)"
        )
    path = Path(run_dir) / LOCK_FILE
    try:
        handle = path.open("a+")
    except OSError as err:
        raise LockError(
            f"cannot write in the run directory {run_dir}: {err.strerror}"
        ) from err
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise LockError(
                f"{run_dir} is being trained by another process (PID "
                f"{holder}); "
                "wait for it to finish or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
