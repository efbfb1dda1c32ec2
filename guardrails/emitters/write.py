"""The only code that writes ``output/``: atomically, removing files no longer generated.

The new tree is built in a temporary sibling directory (``stage_output``), validated
there, and swapped in with renames (``swap_in``), so a failed or interrupted build leaves
the previous output intact. Files that Terraform or users create beside the generated ones
(``.terraform/``, lock files, state, ``*.tfvars``, backend and override files) are moved
into the new tree untouched.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from pathlib import Path

# Files and folders users or Terraform create inside output/ that a rebuild must keep.
PRESERVED = (".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup", "*.tfvars",
             "*.tfvars.json", "*_override.tf", "*_override.tf.json", "override.tf", "override.tf.json", "backend.hcl",
             "*.backend.hcl", ".terraform.tfstate.lock.info")


def is_preserved(name: str) -> bool:
    """Is this file or folder name one that a rebuild must never touch?"""
    return any(fnmatch.fnmatch(name, pattern) for pattern in PRESERVED)


def stage_output(files: dict[str, str], output: Path) -> Path:
    """Write ``files`` into a fresh temporary directory beside ``output`` and return it."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    try:
        for rel, text in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def swap_in(staging: Path, output: Path) -> None:
    """Make ``staging`` the new ``output``: move preserved files over, then rename (atomic per rename)."""
    output = output.resolve()
    moved: list[tuple[Path, Path]] = []
    try:
        if output.exists():
            for source in _preserved_paths(output):
                destination = staging / source.relative_to(output)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, destination)
                moved.append((source, destination))
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        if output.exists():
            os.replace(output, old)
        os.replace(staging, output)
    except BaseException:
        for source, destination in reversed(moved):  # put Terraform's files back where they were
            if destination.exists():
                source.parent.mkdir(parents=True, exist_ok=True)
                os.replace(destination, source)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def write_output(files: dict[str, str], output: Path) -> None:
    """Replace ``output`` with exactly ``files`` (plus preserved files), atomically."""
    swap_in(stage_output(files, output), output)


def _preserved_paths(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in list(dirnames):
            if is_preserved(name):
                dirnames.remove(name)
                found.append(Path(dirpath) / name)
        found.extend(Path(dirpath) / name for name in filenames if is_preserved(name))
    return sorted(found)


def read_tree(output: Path) -> dict[str, str]:
    """The generated files currently in ``output`` (preserved files excluded)."""
    found: dict[str, str] = {}
    if not output.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(output):
        dirnames[:] = [d for d in dirnames if not is_preserved(d)]
        for name in filenames:
            if not is_preserved(name):
                path = Path(dirpath) / name
                found[path.relative_to(output).as_posix()] = path.read_text(encoding="utf-8")
    return dict(sorted(found.items()))
