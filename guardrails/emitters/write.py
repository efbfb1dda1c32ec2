"""The only code that writes ``output/``: atomically, removing files no longer generated.

The new tree is built in a temporary sibling directory and swapped in with renames, so a
failed or interrupted build leaves the previous output intact. Files that Terraform creates
beside the generated ones (``.terraform/``, lock files, state, ``*.tfvars``, backend
overrides) are carried over untouched.
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


def _preserved(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in PRESERVED)


def write_output(files: dict[str, str], output: Path) -> None:
    """Replace ``output`` with exactly ``files`` (plus preserved Terraform files), atomically."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    try:
        for rel, text in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        if output.exists():
            _carry_over_preserved(output, staging)
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        if output.exists():
            os.replace(output, old)
        os.replace(staging, output)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _carry_over_preserved(old_root: Path, new_root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(old_root):
        rel_dir = Path(dirpath).relative_to(old_root)
        for name in list(dirnames):
            if _preserved(name):
                dirnames.remove(name)
                destination = new_root / rel_dir / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(Path(dirpath) / name, destination, symlinks=True)
        for name in filenames:
            if _preserved(name):
                destination = new_root / rel_dir / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(dirpath) / name, destination)


def read_tree(output: Path) -> dict[str, str]:
    """The generated files currently in ``output`` (preserved Terraform files excluded)."""
    found: dict[str, str] = {}
    if not output.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(output):
        dirnames[:] = [d for d in dirnames if not _preserved(d)]
        for name in filenames:
            if not _preserved(name):
                path = Path(dirpath) / name
                found[path.relative_to(output).as_posix()] = path.read_text(encoding="utf-8")
    return dict(sorted(found.items()))
