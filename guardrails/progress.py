"""Progress of the long steps (compile, proofs, cfn-lint, checkov, the IAM audit), for whoever listens.

The stages call :func:`step` around their slow work; by default nobody listens and it costs nothing. The command
line installs a :class:`Listener` for a run (:func:`listening`; guardrails.cli.progress prints to stderr). Steps can
run in several threads at once (the validators do), so a listener must be thread-safe. Standard library only: every
stage imports this module, and ``guardrails check`` must start fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Listener", "listening", "step"]


class Listener(Protocol):
    """Told when a step starts and when it ends (``failed``: it raised)."""

    def started(self, name: str) -> None: ...

    def finished(self, name: str, seconds: float, *, failed: bool) -> None: ...


# One listener per process, not a context variable: the validators' threads must reach it too.
_listener: Listener | None = None


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send the steps of the block to ``listener`` (None: to nobody); the previous listener afterwards."""
    global _listener  # noqa: PLW0603 - the process-wide hook this module is
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


@contextmanager
def step(name: str) -> Iterator[None]:
    """One long step, such as ``checkov`` or ``lockout proof``."""
    listener = _listener
    if listener is None:
        yield
        return
    listener.started(name)
    start, failed = time.perf_counter(), True
    try:
        yield
        failed = False
    finally:
        listener.finished(name, time.perf_counter() - start, failed=failed)
