"""The only code that writes ``output/``: atomically, removing files no longer generated.

The new tree is built in a temporary sibling directory (``stage_output``), validated
there, and swapped in with renames (``swap_in``), so a failed or interrupted build leaves
the previous output intact. Files that Terraform or users create beside the generated ones
(``.terraform/``, lock files, state, ``*.tfvars``, backend and override files) are moved
into the new tree untouched.

A build only ever replaces a directory that is missing, empty, or a guardrails output
(:func:`check_target`), so ``-o`` naming a user's file or folder is refused before anything moves.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from guardrails.diagnostics import ToolError

# Files and folders users or Terraform create inside output/ that a rebuild must keep.
PRESERVED = (".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup", "*.tfvars",
             "*.tfvars.json", "*_override.tf", "*_override.tf.json", "override.tf", "override.tf.json", "backend.hcl",
             "*.backend.hcl", ".terraform.tfstate.lock.info")
# Of those, the ones Terraform merges into the configuration it applies (a validated output does not cover them).
# https://developer.hashicorp.com/terraform/language/files/override
OVERRIDES = ("*_override.tf", "*_override.tf.json", "override.tf", "override.tf.json")
# What every build writes: the manifest, and the top-level folders of the tree (README "What comes out").
MANIFEST = "policies/manifest.json"
MANIFEST_FORMAT = "guardrails-policies/"
LAYOUT = ("cdk", "cloudformation", "policies", "reports", "terraform")
# read_tree gives an entry that is not generated text (binary, a link, a device, huge) this prefix and the reason;
# generated files never contain NUL, so such an entry never equals what a build writes.
NOT_TEXT = "\0"
MAX_FILE_BYTES = 64 * 1024 * 1024  # far above any generated file; a bigger one is not read


def is_preserved(name: str) -> bool:
    """Is this file or folder name one that a rebuild must never touch?"""
    return any(fnmatch.fnmatch(name, pattern) for pattern in PRESERVED)


def is_guardrails_output(directory: Path) -> bool:
    """Does ``directory`` hold a tree a build wrote: a ``policies/manifest.json`` of format ``guardrails-policies/…``,
    or — a damaged manifest — a manifest file and nothing at the top but the build's folders and Terraform's files?"""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return False
    try:
        if manifest.stat().st_size <= MAX_FILE_BYTES:
            found = json.loads(manifest.read_bytes())
            if isinstance(found, dict) and str(found.get("format", "")).startswith(MANIFEST_FORMAT):
                return True
    except (OSError, ValueError):
        pass
    return all(entry.name in LAYOUT or is_preserved(entry.name) for entry in directory.iterdir())


def check_target(output: Path) -> None:
    """Refuse an output path a build must not replace: an existing file, or a non-empty folder that is not a
    guardrails output (:func:`is_guardrails_output`). Nothing is moved or written."""
    if output.is_symlink() and not output.exists():
        raise ToolError(f"-o {output} is a symbolic link to nothing; give a directory for the generated files")
    if not output.exists():
        if output.parent.exists() and not output.parent.is_dir():
            raise ToolError(f"-o {output}: {output.parent} is a file, not a directory; nothing was written")
        return
    if not output.is_dir():
        raise ToolError(f"-o {output} is an existing file, not an output directory; nothing was written. Give a "
                        "new or empty directory, or the one an earlier build wrote")
    try:
        empty = next(output.iterdir(), None) is None
        ours = empty or is_guardrails_output(output)
    except OSError as exc:
        raise ToolError(f"-o {output} cannot be read ({exc.strerror or exc}); nothing was written") from exc
    if not ours:
        raise ToolError(f"-o {output} is a non-empty directory that is not a guardrails output (no {MANIFEST} of "
                        f"format {MANIFEST_FORMAT}…); a build replaces the whole directory, so nothing was written. "
                        "Give a new or empty directory, or the one an earlier build wrote")


def stage_output(files: dict[str, str], output: Path) -> Path:
    """Write ``files`` into a fresh temporary directory beside ``output`` and return it."""
    output = output.resolve()
    staging: Path | None = None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
        root = str(staging)  # plain strings: a Path per file was a fifth of writing 7,000 files
        made: set[str] = set()  # each folder created once (thousands of files share a few hundred folders)
        for rel, text in files.items():
            folder = os.path.dirname(rel)
            if folder not in made:
                os.makedirs(os.path.join(root, folder), exist_ok=True)
                made.add(folder)
            with open(os.path.join(root, rel), "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise ToolError(f"cannot write the new output beside {output}: {_reason(exc)}; the previous output is "
                        "unchanged") from exc
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def swap_in(staging: Path, output: Path) -> None:
    """Make ``staging`` the new ``output``: move preserved files over, then rename (atomic per rename)."""
    output = output.resolve()
    moved: list[tuple[Path, Path]] = []
    old: Path | None = None
    try:
        if output.exists():
            for source in _preserved_paths(output):
                destination = staging / source.relative_to(output)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, destination)
                moved.append((source, destination))
            # A fresh, empty name (never an earlier run's leftover): renaming a folder onto an empty one is allowed.
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
            os.replace(output, old)
        os.replace(staging, output)
    except BaseException as exc:
        if old is not None and old.exists() and not output.exists():
            os.replace(old, output)
        for source, destination in reversed(moved):  # put Terraform's files back where they were
            if destination.exists():
                source.parent.mkdir(parents=True, exist_ok=True)
                os.replace(destination, source)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ToolError(f"cannot replace {output}: {_reason(exc)}; the previous output is unchanged") from exc
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def keep_rejected(staging: Path, output: Path) -> Path:
    """Move a tree that failed validation to ``.<output>.rejected`` beside ``output``, for inspection."""
    rejected = discard_rejected(output)
    staging.rename(rejected)
    return rejected


def discard_rejected(output: Path) -> Path:
    """Remove ``.<output>.rejected`` (a link is removed, never followed); returns its path. A successful build calls
    it: the tree an earlier build rejected no longer tells anything about ``output``."""
    output = output.resolve()
    rejected = output.with_name(f".{output.name}.rejected")
    if rejected.is_symlink() or rejected.is_file():
        rejected.unlink()
    shutil.rmtree(rejected, ignore_errors=True)
    return rejected


def write_output(files: dict[str, str], output: Path) -> None:
    """Replace ``output`` with exactly ``files`` (plus preserved files), atomically."""
    staging = stage_output(files, output)
    try:
        swap_in(staging, output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _reason(exc: OSError) -> str:
    return f"{exc.strerror} (errno {exc.errno})" if exc.strerror else str(exc)


def _preserved_paths(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in list(dirnames):
            if is_preserved(name):
                dirnames.remove(name)
                found.append(Path(dirpath) / name)
        found.extend(Path(dirpath) / name for name in filenames if is_preserved(name))
    return sorted(found)


def override_files(output: Path) -> list[str]:
    """Terraform override files inside ``output`` (relative paths): kept by builds, never generated or validated."""
    return [path.relative_to(output).as_posix() for path in _preserved_paths(output) if path.is_file()
            and any(fnmatch.fnmatch(path.name, pattern) for pattern in OVERRIDES)] if output.is_dir() else []


def read_tree(output: Path) -> dict[str, str]:
    """The generated files currently in ``output`` (preserved files excluded), as text.

    Anything else found there — a file that is not UTF-8 text (e.g. a ``terraform plan -out`` file), a symbolic
    link, a device, a file too large to be generated — comes back as ``NOT_TEXT`` + why (:func:`not_text`): it
    never equals a generated file, and nothing is followed or read beyond the size cap.
    """
    found: dict[str, str] = {}
    if not output.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(output):  # os.walk does not descend into linked folders
        names = [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))]
        dirnames[:] = [d for d in dirnames if not is_preserved(d) and not os.path.islink(os.path.join(dirpath, d))]
        for name in names:
            if not is_preserved(name):
                path = Path(dirpath) / name
                found[path.relative_to(output).as_posix()] = _read_generated(path)
    return dict(sorted(found.items()))


def not_text(entry: str) -> str | None:
    """Why a :func:`read_tree` entry is not a generated text file, or None when it is text."""
    return entry[len(NOT_TEXT):] if entry.startswith(NOT_TEXT) else None


def _read_generated(path: Path) -> str:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return f"{NOT_TEXT}a symbolic link (to {os.readlink(path)}), not a generated file"
        if not stat.S_ISREG(info.st_mode):
            return f"{NOT_TEXT}not a regular file"
        if info.st_size > MAX_FILE_BYTES:
            return f"{NOT_TEXT}{info.st_size} bytes, larger than any generated file"
        data = path.read_bytes()
    except OSError as exc:
        return f"{NOT_TEXT}unreadable: {_reason(exc)}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{NOT_TEXT}not UTF-8 text (byte {exc.start}); a binary file such as a saved `terraform plan`?"
    if NOT_TEXT in text:
        return f"{NOT_TEXT}binary data (a NUL byte); a binary file such as a saved `terraform plan`?"
    # Universal newlines, as text mode reads: a checkout with Windows line endings is the same text.
    return text.replace("\r\n", "\n").replace("\r", "\n")
