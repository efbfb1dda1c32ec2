"""Workflows that change the blueprint or its rollout state and then compile: ``rollout start|promote`` and the
``account`` edits (add, set-id, move). They call the pipeline; the pipeline never calls them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from guardrails.blueprint.loader import load_blueprint
from guardrails.diagnostics import ToolError
from guardrails.emitters.write import check_target
from guardrails.pipeline import BuildResult, Compiled, build, compile_blueprint

if TYPE_CHECKING:
    from guardrails.blueprint.edit import Edit


def rollout_start(directory: Path, output: Path) -> Path:
    """Record the released SCPs and RCPs (the committed ``output``) as the blueprint's rollout lock.

    From then on, builds keep every target outside the canary OUs on these versions and give the canary OUs the
    new ones, until :func:`rollout_promote`. The output must be up to date with the blueprint's last release, so
    run this before changing the guardrails.
    """
    from guardrails.blueprint.edit import write_atomically
    from guardrails.iam.manifest import MANIFEST, Manifest
    from guardrails.model.build import ROLLOUT_LOCK

    lock = directory / ROLLOUT_LOCK
    if lock.exists():
        raise ToolError(f"{lock} exists: a rollout is in progress; promote it (`guardrails rollout promote`) first")
    manifest_path = output / MANIFEST
    if not manifest_path.is_file():
        raise ToolError(f"{manifest_path} is missing: build the released blueprint into {output} first")
    manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
    policies = []
    for kind, entries in (("SERVICE_CONTROL_POLICY", manifest.service_control_policies),
                          ("RESOURCE_CONTROL_POLICY", manifest.resource_control_policies)):
        for entry in entries:
            document = json.loads((output / entry.file).read_text(encoding="utf-8"))
            policies.append({"name": entry.name, "type": kind, "target": entry.target,
                             "guardrails": list(entry.guardrails),
                             "intended_denials": list(entry.intended_denials), "document": document})
    body = {"comment": "Released SCPs and RCPs of a canary rollout in progress (guardrails rollout start). "
                       "Remove with `guardrails rollout promote` once the canary OUs are fine.",
            "policies": sorted(policies, key=lambda p: p["name"])}
    write_atomically(lock, json.dumps(body, indent=2, ensure_ascii=False) + "\n")  # a crash leaves no half lock
    return lock


def rollout_promote(directory: Path) -> Path:
    """End the rollout: remove the lock, so the next build releases the new versions everywhere."""
    from guardrails.model.build import ROLLOUT_LOCK

    lock = directory / ROLLOUT_LOCK
    if not lock.exists():
        raise ToolError(f"{lock} does not exist: no rollout is in progress")
    lock.unlink()
    return lock


def apply_blueprint_edit(edit: Edit, directory: Path, output: Path, *, build_output: bool = True,
                         validate: bool = True, external: bool = True, checkov: str | None = None
                         ) -> BuildResult | Compiled:
    """Write a blueprint edit, then compile (and, with ``build_output``, build and validate ``output``).

    Any failure puts the blueprint file back as it was and re-raises: the blueprint and ``output`` never disagree,
    and ``output`` is only replaced by a build that validated (:func:`build` is atomic). Both writes of the file
    replace it whole (:func:`~guardrails.blueprint.edit.write_atomically`), so a full disk leaves it as it was;
    an ``output`` that a build must not replace is refused before the file is touched.
    """
    if build_output:
        check_target(output)
    edit.apply()  # atomic: when it fails, the file is unchanged and there is nothing to put back
    try:
        if build_output:
            return build(directory, output, validate=validate, external=external, checkov=checkov)
        return compile_blueprint(directory)
    except BaseException as failure:
        try:
            edit.revert()
        except ToolError as exc:
            raise ToolError(f"{exc}, so it still holds the edit, though the build failed ({failure}); put the "
                            f"previous text back by hand (`git checkout -- {edit.path}` in a repository)") from failure
        raise


def quarantine_unit(directory: Path) -> str:
    """The OU path the ``quarantine`` catalog guardrail is attached to (exactly one)."""
    from guardrails.model.build import catalog_attachments

    loaded = load_blueprint(directory)
    units = sorted({a.target.removeprefix("ou:") for a in catalog_attachments(loaded.blueprint)
                    if a.target.startswith("ou:") and a.guardrail_id == "quarantine"})
    if len(units) != 1:
        found = f"it is attached to {', '.join(units)}" if units else "no OU has it"
        raise ToolError(f"--quarantine needs exactly one OU with the `quarantine` guardrail; {found}. Add an OU such "
                        "as `Quarantine: {guardrails: [quarantine]}` under organization.units")
    return units[0]
