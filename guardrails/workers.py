"""A second worker process for independent work of a compile (the escalation analysis while the parent emits).

``GUARDRAILS_WORKERS`` chooses: ``1`` runs everything in this process, ``2`` forks one child for the work given
to :func:`start`; unset, 2 where this process may use at least two CPUs and ``os.fork`` exists (not on Windows),
else 1. The child inherits the compile's objects by ``fork`` (nothing is pickled on the way in), sends its result
back pickled through a pipe and leaves with ``os._exit`` (no atexit handlers, no buffered output flushed twice).
Whatever goes wrong in the child — an exception, a signal, an exit without a result, a result that does not
unpickle — raises :class:`WorkerFailed` in the parent: a crash never passes a run.
"""

from __future__ import annotations

import os
import pickle
import signal
import traceback
from collections.abc import Callable
from typing import Generic, TypeVar

from guardrails.diagnostics import ToolError

T = TypeVar("T")
ENV = "GUARDRAILS_WORKERS"


class WorkerFailed(RuntimeError):
    """The forked worker did not deliver its result (its traceback or exit status is the message)."""


def worker_count() -> int:
    """1 or 2, from ``GUARDRAILS_WORKERS`` or the CPUs this process may use."""
    configured = os.environ.get(ENV, "").strip()
    if configured:
        if configured not in ("1", "2"):
            raise ToolError(f"{ENV}={configured!r}: give 1 (one process) or 2 (the escalation analysis in a second "
                            "process)")
        wanted = int(configured)
    else:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        wanted = 2 if cpus >= 2 else 1
    return wanted if hasattr(os, "fork") else 1


class Job(Generic[T]):
    """One forked call: :meth:`result` waits for it; :meth:`cancel` stops it."""

    def __init__(self, pid: int, fd: int) -> None:
        self._pid, self._fd = pid, fd

    def result(self) -> T:
        chunks = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            _, status = os.waitpid(self._pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise WorkerFailed(f"the escalation worker (pid {self._pid}) {how} before sending its result; "
                               f"run with {ENV}=1 to see the failure in one process")
        try:
            kind, value = pickle.loads(b"".join(chunks))
        except Exception as exc:  # truncated or unreadable: the child died while writing
            raise WorkerFailed(f"the escalation worker (pid {self._pid}) sent no readable result ({exc})") from exc
        if kind != "ok":
            raise WorkerFailed(f"the escalation worker failed:\n{value}")
        return value

    def cancel(self) -> None:
        try:
            os.kill(self._pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self._fd)
        os.waitpid(self._pid, 0)


def start(work: Callable[[], T]) -> Job[T]:
    """Fork; the child runs ``work()`` and sends back its (picklable) result or its traceback."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:  # out of processes or memory: say how to run without the worker
        os.close(read_end)
        os.close(write_end)
        raise ToolError(f"cannot start the second worker process ({exc.strerror or exc}); run with {ENV}=1") from exc
    if pid == 0:  # the child: never returns into the caller's code
        code = 0
        try:
            os.close(read_end)
            try:
                payload = pickle.dumps(("ok", work()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # noqa: BLE001 — reported to the parent, which fails the run
                payload = pickle.dumps(("error", traceback.format_exc()))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
            os.close(write_end)
        except BaseException:  # noqa: BLE001 — the parent sees the status
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    return Job(pid, read_end)
