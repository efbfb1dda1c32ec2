"""``guardrails setup checkov``: the pinned checkov in an isolated virtual environment, for pip users.

checkov cannot share guardrails' environment (guardrails.validators.checkov says why), so it gets its own, made from
the lock shipped in the package (``guardrails/data/checkov.lock``, the one list of exact versions; ``make install``
reads it too). The default place is per user and per checkov version, ``$XDG_DATA_HOME/guardrails/checkov-VERSION``
(``~/.local/share/…`` without the variable: https://specifications.freedesktop.org/basedir-spec/latest/), which
:func:`~guardrails.validators.checkov.find_checkov` looks at after ``--checkov`` and ``$GUARDRAILS_CHECKOV``. A
marker written after pip succeeded tells a finished environment from an interrupted one.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from guardrails.diagnostics import ToolError

LOCK_NAME = "checkov.lock"
MARKER = ".guardrails-setup"  # written last: its content is the sha256 of the lock installed
PIP_TIMEOUT = 1800.0  # seconds; ~100 wheels from the package index


def lock_text() -> str:
    """The shipped lock: ``name==version`` lines (and ``--hash`` options, when it has them)."""
    return resources.files("guardrails.data").joinpath(LOCK_NAME).read_text(encoding="utf-8")


def lock_path() -> Path:
    """The lock as a file pip can read (the package is installed unpacked, as pip and setuptools install it)."""
    return Path(str(resources.files("guardrails.data").joinpath(LOCK_NAME)))


def checkov_version(text: str | None = None) -> str:
    """The checkov version the lock pins."""
    match = re.search(r"^checkov==([^\s;\\]+)", lock_text() if text is None else text, re.MULTILINE)
    if match is None:
        raise ToolError(f"guardrails/data/{LOCK_NAME} pins no checkov version: the package is damaged; reinstall it")
    return match.group(1)


def default_directory(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/guardrails/checkov-VERSION`` (``~/.local/share`` when the variable is unset or relative)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME", "")
    home = Path(env.get("HOME") or Path.home())
    root = Path(base) if base and Path(base).is_absolute() else home / ".local" / "share"
    return root / "guardrails" / f"checkov-{checkov_version()}"


def executable_in(directory: Path) -> Path:
    """Where a virtual environment keeps the checkov script."""
    return directory / ("Scripts/checkov.exe" if os.name == "nt" else "bin/checkov")


def installed_executable(directory: Path | None = None) -> Path | None:
    """checkov of a finished ``setup checkov`` in ``directory`` (default: :func:`default_directory`), else None."""
    directory = default_directory() if directory is None else directory
    executable = executable_in(directory)
    if (directory / MARKER).is_file() and executable.is_file() and os.access(executable, os.X_OK):
        return executable
    return None


@dataclass(frozen=True)
class InstallPlan:
    """What ``setup checkov`` runs: a virtual environment at ``directory`` made by ``python``, then pip with the
    lock (``--require-hashes`` when the lock carries hashes; pip requires them for every line then anyway)."""

    directory: Path
    python: str
    lock: Path
    hashed: bool

    @property
    def venv_python(self) -> Path:
        return self.directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def commands(self) -> list[list[str]]:
        pip = [str(self.venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
        return [[self.python, "-m", "venv", "--clear", str(self.directory)],
                [*pip, *(["--require-hashes"] if self.hashed else []), "-r", str(self.lock)]]


def install_plan(directory: Path | None = None, *, python: str | None = None) -> InstallPlan:
    lock = lock_path()
    return InstallPlan((default_directory() if directory is None else directory).absolute(),
                       python or sys.executable, lock, "--hash=" in lock_text())


def setup_checkov(plan: InstallPlan) -> Path:
    """Create the environment and install the lock; returns the checkov executable. Raises ToolError."""
    if plan.directory.is_file() or (plan.directory.is_dir() and any(plan.directory.iterdir())
                                    and not (plan.directory / "pyvenv.cfg").is_file()):
        raise ToolError(f"{plan.directory} exists and is not a virtual environment: nothing was changed; remove it "
                        "or give another --dir")
    (plan.directory / MARKER).unlink(missing_ok=True)  # not finished until pip is
    for command in plan.commands():
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"`{' '.join(command)}` failed: {exc}") from exc
        if run.returncode != 0:
            tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-5:]) or "(no output)"
            raise ToolError(f"`{' '.join(command)}` exited with code {run.returncode}: {tail}. The package index "
                            "must be reachable (pip's usual settings apply: PIP_INDEX_URL, a proxy)")
    executable = executable_in(plan.directory)
    if not executable.is_file():
        raise ToolError(f"pip finished but {executable} does not exist")
    digest = hashlib.sha256(plan.lock.read_bytes()).hexdigest()
    (plan.directory / MARKER).write_text(f"{digest}\n", encoding="utf-8")
    return executable
