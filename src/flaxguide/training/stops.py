"""Stop signals that wait for the epoch in flight.

A process told to end (Ctrl-C, or `SIGTERM` / `SIGHUP` from a scheduler, a
container stop, a closed terminal) should keep what it has trained. Python
raises `KeyboardInterrupt` wherever the program happens to be, and a signal
handler that raises does the same: inside JAX's own code (a cache of its
jit, comparing keys, has been seen to turn it into a `ValueError`) or
inside Orbax writing a checkpoint.
[`StopSignals`][flaxguide.training.stops.StopSignals] raises at once outside
training, and while [`fit`][flaxguide.training.loop.fit] trains it holds
the signal until the epoch in flight is finished and saved, then raises
there. A second signal raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

# What asks a process to end: Ctrl-C, a scheduler or container stop, a
# closed terminal.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal, raised so that the program unwinds as on Ctrl-C: the
    last finished epoch saved, the run's lock released.

    Attributes:
        signum: the signal's number.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """While installed (`with StopSignals() as stops:`), the stop signals
    raise [`Stopped`][flaxguide.training.stops.Stopped], at once, or, inside
    `stops.held()`, when the block ends.

    Example:
        ```python
        import os
        import signal

        from flaxguide.training.stops import Stopped, StopSignals

        with StopSignals() as stops:
            try:
                with stops.held():
                    os.kill(os.getpid(), signal.SIGTERM)  # held, not raised
                    print("kept:", signal.Signals(stops.received).name)
            except Stopped as stop:
                print("raised as the block ended:", stop)
        ```

        ```text title="Output"
        kept: SIGTERM
        raised as the block ended: SIGTERM
        ```
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._holding = False
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        self._previous = {
            sig: signal.signal(sig, self._handle) for sig in SIGNALS
        }
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if not self._holding or self.received is not None:
            raise Stopped(signum)
        self.received = signum
        name = signal.Signals(signum).name
        print(
            f"\n{name}: stopping once the epoch in flight is saved "
            "(again to stop at once)",
            file=sys.stderr,
        )

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold stop signals inside the block; raise `Stopped` as it ends if
        one came."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self.received is not None:
            raise Stopped(self.received)
