"""The long steps' progress on standard error (standard output carries the reports, JSON and SARIF).

On an interactive terminal a spinner names the running steps with their time; otherwise (a pipe, CI, ``TERM=dumb``,
``NO_COLOR``: a spinner is cursor-control escapes) a step still running after :data:`DELAY` seconds prints
``NAME started`` and, when it ends, ``NAME finished in N s``. Shorter steps print nothing, so a 1.5 s ``check`` in a
pre-commit hook stays silent; ``-q`` prints no progress at all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from guardrails.progress import listening

if TYPE_CHECKING:
    from rich.status import Status  # imported when a spinner starts: every command's start-up would pay 4 ms

__all__ = ["DELAY", "StderrProgress", "reporting"]
DELAY = 2.0  # seconds


class StderrProgress:
    """A :class:`guardrails.progress.Listener` printing to ``console`` (standard error). Thread-safe."""

    def __init__(self, console: Console, *, delay: float | None = None) -> None:
        self.console, self.delay = console, DELAY if delay is None else delay
        self.spinner = (console.is_interactive and _isatty(console) and os.environ.get("NO_COLOR", "") == "")
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}  # step → when it started (monotonic)
        self._announced: set[str] = set()  # plain mode: the steps whose "started" line was printed
        self._timers: dict[str, threading.Timer] = {}
        self._status: Status | None = None

    def started(self, name: str) -> None:
        with self._lock:
            if name in self._running:  # the same step nested (a build's compile calls no other compile): once
                return
            self._running[name] = time.monotonic()
            if self.spinner:
                if self._status is None:
                    from rich.status import Status

                    self._status = Status(_Running(self._running), console=self.console, spinner="dots")
                    self._status.start()
            elif self.delay <= 0:
                self._announce(name)
            else:
                timer = threading.Timer(self.delay, self._late, (name,))
                timer.daemon = True
                self._timers[name] = timer
                timer.start()

    def finished(self, name: str, seconds: float, *, failed: bool) -> None:
        with self._lock:
            if self._running.pop(name, None) is None:
                return
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()
            long = name in self._announced if not self.spinner else seconds >= self.delay
            self._announced.discard(name)
            if self.spinner and not self._running and self._status is not None:
                self._status.stop()  # first: the line below, not an empty spinner, is what stays on the screen
                self._status = None
            if long:
                self.console.print(f"{name} {'failed after' if failed else 'finished in'} {seconds:.1f} s",
                                   markup=False, highlight=False)

    def close(self) -> None:
        """Stop the spinner and the timers (a run that ends inside a step, e.g. on Ctrl-C)."""
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._running.clear()
            if self._status is not None:
                self._status.stop()
                self._status = None

    def _late(self, name: str) -> None:
        with self._lock:
            if name in self._running and self._timers.pop(name, None) is not None:
                self._announce(name)

    def _announce(self, name: str) -> None:
        self._announced.add(name)
        self.console.print(f"{name} started", markup=False, highlight=False)


class _Running:
    """The spinner's text, rendered on each refresh: the running steps and the longest one's time. Takes no lock
    (it renders inside the console's lock, which :meth:`StderrProgress.finished` takes inside its own)."""

    def __init__(self, running: dict[str, float]) -> None:
        self.running = running

    def __rich__(self) -> Text:
        running = dict(self.running)  # a copy: another thread may add or remove a step meanwhile
        if not running:
            return Text("")
        return Text(f"{', '.join(running)} … {time.monotonic() - min(running.values()):.0f} s")


def _isatty(console: Console) -> bool:
    isatty = getattr(console.file, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


@contextmanager
def reporting(console: Console, *, quiet: bool) -> Iterator[None]:
    """The steps of the block print their progress on ``console``; none with ``quiet``."""
    listener = None if quiet else StderrProgress(console)
    try:
        with listening(listener):
            yield
    finally:
        if listener is not None:
            listener.close()
