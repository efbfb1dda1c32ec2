"""The two sides of a diff: a blueprint compiled in memory, a directory, or a git revision.

The review stage may not import the pipeline (tests/test_layers.py), so compiling is a callable the CLI
injects: ``compile_files(blueprint_dir) -> {path under output/: text}`` (it may return every output file; only
``policies/`` is kept). A git revision is read with ``git archive`` into a temporary directory and compiled
with the *current* code, so both sides are judged by the same compiler; when the old blueprint no longer
compiles, its committed ``output/policies`` tree is used instead and the diff says so.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from guardrails.diagnostics import BlueprintError, GuardrailsError
from guardrails.evaluation.organization import MANIFEST, Organization
from guardrails.review.errors import BaseUnavailableError, GitError, ReviewError, RevisionError

CompileFiles = Callable[[Path], Mapping[str, str]]
WILDCARDS_NAME = "wildcards.json"  # policies/wildcards.json: what each wildcard pattern matched when compiled


@dataclass
class SourcedOrganization(Organization):
    """An organization with where it came from (``label``) and what the reader should know (``notes``)."""

    label: str = ""
    notes: tuple[str, ...] = ()


def organization_from_files(files: Mapping[str, str], label: str, notes: tuple[str, ...] = ()) -> SourcedOrganization:
    """The policy tree among ``files`` (paths under output/); everything outside ``policies/`` is ignored."""
    return SourcedOrganization({p: t for p, t in files.items() if p.startswith("policies/")}, label, notes)


def organization_from_blueprint(directory: Path, compile_files: CompileFiles,
                                label: str | None = None) -> SourcedOrganization:
    """Compile a blueprint directory in memory (raises the compiler's GuardrailsError when it does not compile)."""
    if not directory.is_dir():
        raise ReviewError(f"{directory} is not a directory")
    return organization_from_files(compile_files(directory), label or str(directory))


def organization_from_path(path: Path, compile_files: CompileFiles) -> SourcedOrganization:
    """A blueprint directory, or an output directory that holds ``policies/manifest.json`` (read as is)."""
    if (path / MANIFEST).is_file():
        return SourcedOrganization(Organization.from_directory(path).files, f"{path} (policy tree)")
    return organization_from_blueprint(path, compile_files)


def organization_from_directories(base_dir: Path, head_dir: Path, compile_files: CompileFiles
                                  ) -> tuple[SourcedOrganization, SourcedOrganization]:
    """Both sides from directories: each a blueprint (compiled) or an output directory with a policy tree."""
    return organization_from_path(base_dir, compile_files), organization_from_path(head_dir, compile_files)


# ============================================================================= git


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH; `guardrails diff --base REF` needs it "
                       "(or compare two directories: `guardrails diff BASE_DIR HEAD_DIR`)") from exc
    except OSError as exc:
        raise GitError(f"could not run git in {cwd}: {exc}") from exc


def _stderr(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0] if result.stderr.strip() else \
        f"exit status {result.returncode}"


def _toplevel(repo_root: Path) -> Path:
    result = _git(["rev-parse", "--show-toplevel"], repo_root)
    if result.returncode != 0:
        raise GitError(f"{repo_root} is not inside a git repository ({_stderr(result)})")
    return Path(result.stdout.decode("utf-8").strip())


def _commit(ref: str, top: Path) -> str:
    """The commit a revision names; a RevisionError naming it when git does not know it."""
    if not ref or ref.startswith("-"):
        # Would be read as an option by git (no shell is involved, but git parses its own arguments).
        raise RevisionError(f"{ref!r} is not a git revision")
    result = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    if result.returncode != 0:
        raise RevisionError(f"unknown git revision {ref!r} in {top}: no commit by that name (try a branch, a tag, "
                            "a commit id or HEAD~1; in CI, fetch the base branch first, e.g. "
                            "`git fetch origin main` with enough depth)")
    return result.stdout.decode("utf-8").strip()


def _relative(path: str | Path, top: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(top.resolve())
        except ValueError as exc:
            raise ReviewError(f"{path} is not inside the git repository {top}") from exc
    text = PurePosixPath(candidate.as_posix()).as_posix().strip("/")
    if text in ("", ".") or ".." in PurePosixPath(text).parts:
        raise ReviewError(f"{path!r} must name a directory inside the repository")
    return text


def _archive(ref: str, commit: str, rel: str, top: Path) -> tarfile.TarFile:
    """``git archive`` of one directory of a commit, as an open tar file."""
    result = _git(["archive", "--format=tar", commit, "--", rel], top)
    if result.returncode != 0:
        raise RevisionError(f"revision {ref!r} has no {rel}/ ({_stderr(result)})")
    return tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r:")


def _extract(archive: tarfile.TarFile, destination: Path) -> None:
    # The data filter refuses absolute paths, links out of the tree and device files
    # (https://docs.python.org/3/library/tarfile.html#extraction-filters); git archives hold none, but a
    # repository is input like any other.
    if hasattr(tarfile, "data_filter"):
        archive.extractall(destination, filter="data")
        return
    for member in archive.getmembers():  # Python < 3.11.4: the same refusal, by hand
        target = (destination / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(destination.resolve()):
            raise ReviewError(f"refusing to extract {member.name!r} from the git archive")
    archive.extractall(destination)  # noqa: S202 - members checked above


def _policy_files(archive: tarfile.TarFile, rel: str) -> dict[str, str]:
    """The JSON files under ``rel`` (an ``output/policies`` directory) keyed ``policies/...``."""
    files: dict[str, str] = {}
    prefix = rel.rstrip("/") + "/"
    for member in archive.getmembers():
        if not member.isfile() or not member.name.startswith(prefix) or not member.name.endswith(".json"):
            continue
        handle = archive.extractfile(member)
        if handle is not None:
            files["policies/" + member.name[len(prefix):]] = handle.read().decode("utf-8")
    return files


def _committed_file(ref: str, commit: str, rel: str, top: Path) -> str | None:
    """One committed file of a revision, or None when the revision does not have it."""
    try:
        with _archive(ref, commit, rel, top) as archive:
            member = archive.getmember(rel)
            handle = archive.extractfile(member)
            return handle.read().decode("utf-8") if handle else None
    except (GuardrailsError, KeyError):
        return None


def _explain(error: GuardrailsError) -> str:
    if isinstance(error, BlueprintError) and error.diagnostics:
        shown = "; ".join(d.message for d in error.diagnostics[:3])
        more = f" and {len(error.diagnostics) - 3} more" if len(error.diagnostics) > 3 else ""
        return f"{error}: {shown}{more}"
    return str(error)


def organization_from_git(ref: str, repo_root: Path, blueprint_rel: str | Path, output_rel: str | Path,
                          compile_files: CompileFiles) -> SourcedOrganization:
    """The organization at git revision ``ref``: its blueprint compiled with the current code, or, when that
    blueprint does not compile any more, the revision's committed ``<output_rel>/policies`` tree."""
    top = _toplevel(repo_root)
    commit = _commit(ref, top)
    blueprint = _relative(blueprint_rel, top)
    policies = f"{_relative(output_rel, top)}/policies"
    label = f"{ref} ({commit[:12]})"
    try:
        with tempfile.TemporaryDirectory(prefix="guardrails-diff-") as tmp:
            with _archive(ref, commit, blueprint, top) as archive:
                _extract(archive, Path(tmp))
            files = dict(compile_files(Path(tmp) / blueprint))
        # What the base's wildcards matched is a fact of the base's IAM database, not of today's: keep its record.
        committed = _committed_file(ref, commit, f"{policies}/{WILDCARDS_NAME}", top)
        if committed is not None:
            files[f"policies/{WILDCARDS_NAME}"] = committed
        return organization_from_files(files, f"{label}, {blueprint}/ compiled with the current code")
    except GuardrailsError as first:
        if isinstance(first, GitError):
            raise
        why = str(first) if isinstance(first, RevisionError) else \
            f"its {blueprint}/ does not compile with the current code ({_explain(first)})"
        try:
            with _archive(ref, commit, policies, top) as archive:
                files = _policy_files(archive, policies)
            organization = organization_from_files(files, f"{label}, committed {policies}/")
        except GuardrailsError as second:
            raise BaseUnavailableError(f"cannot read revision {ref!r}: {why}, and its committed {policies}/ cannot "
                                       f"be used ({_explain(second)})") from second
        note = (f"base revision {ref}: {why}; compared against its committed {policies}/ instead, which the code "
                "of that revision produced")
        return SourcedOrganization(organization.files, organization.label, (note,))
