"""A look inside Orbax for the checkpoints chapter: what a save leaves on
disk just before it commits, and the warnings Orbax logs rather than raises.

Both reach into Orbax's internals (a private class, absl logging), which is
why they live here and not on the page: the page shows what they find.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import orbax.checkpoint as ocp


@contextlib.contextmanager
def snapshot_before_commit(step: int, copy_to: Path) -> Iterator[dict]:
    """While active, a save of checkpoint `step` pauses just before Orbax
    renames its temporary directory into place, lists it, and copies the
    whole checkpoint directory to `copy_to`: exactly what a crash at that
    instant would leave behind.

    Yields a dict that then holds `"root"` (the checkpoint directory's
    listing) and `"step"` (the temporary step directory's listing).
    """
    rename = ocp.path.atomicity.AtomicRenameTemporaryPath
    commit = rename.finalize
    seen: dict = {}

    async def look_then_commit(self):
        # the step itself, not one of its items
        if self.get_final().name == str(step):
            root = self.get_final().parent
            seen["root"] = sorted(os.listdir(root))
            seen["step"] = sorted(os.listdir(self.get()))
            shutil.copytree(root, copy_to)
        await commit(self)

    with mock.patch.object(rename, "finalize", look_then_commit):
        yield seen


class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def absl_warnings() -> Iterator[list[str]]:
    """The warnings Orbax logs through absl while active (log records, not
    Python warnings)."""
    recorder = _Recorder()
    logger = logging.getLogger("absl")
    logger.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        logger.removeHandler(recorder)
