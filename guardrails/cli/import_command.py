"""``guardrails import``: read an existing organization (read-only) and write a blueprint that reproduces it
(docs/importing.md). Reading: guardrails.audit.importer; writing: guardrails.audit.blueprint_writer."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from guardrails.cli.codes import EXIT_OK
from guardrails.diagnostics import GuardrailsError, ToolError


BLUEPRINT_FILES = frozenset({"organization.yaml", "identity.yaml", "identity-center.yaml"})


def catalog_renderings(organization_yaml: str) -> dict[str, tuple[str, Any, bool]]:
    """Each catalog guardrail (default parameters) as the imported blueprint compiles it: guardrail id → (kind,
    document, whether it denies break-glass without the catalog saying that is intended). One small compile per
    guardrail, in a scratch directory, with the imported organization settings (partition, break-glass role,
    deployment principals), because the rendering depends on them. A guardrail that
    needs parameters without defaults does not compile alone and is not recognised."""
    import yaml

    from guardrails import pipeline
    from guardrails.model.catalog import load_catalog

    org = yaml.safe_load(organization_yaml)["organization"]
    for key in ("units", "scps", "guardrails"):
        org.pop(key, None)
    out: dict[str, tuple[str, Any, bool]] = {}
    for guardrail_id, guardrail in sorted(load_catalog().items()):
        with tempfile.TemporaryDirectory(prefix="guardrails-import-") as scratch:
            probe = {**org, "guardrails": [guardrail_id]}
            Path(scratch, "organization.yaml").write_text(yaml.safe_dump({"organization": probe}), encoding="utf-8")
            try:
                plan = pipeline.compile_policy_tree(Path(scratch), run_tests=False).plan
            except GuardrailsError:
                continue
        found = [p for p in (*plan.scps, *plan.rcps) if p.guardrails == (guardrail_id,) and p.target == "root"]
        if found:
            out[guardrail_id] = (guardrail.kind, found[0].document.to_json(),
                                 not guardrail.exempt_privileged and not guardrail.locks_break_glass)
    return out


def import_organization(args: argparse.Namespace, out: Console, err: Console) -> int:
    from guardrails.audit.blueprint_writer import write_blueprint
    from guardrails.audit.importer import read_organization
    from guardrails.audit.org_reader import AWS_DEFAULT_POLICIES
    from guardrails.blueprint.edit import write_atomically
    from guardrails.cli.commands import _check_endpoint

    target: Path = args.output
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not args.force:
        raise ToolError(f"{target} is not an empty directory: give a new one, or --force to overwrite the blueprint "
                        "files in it")
    if args.endpoint_url is not None:
        _check_endpoint(args.endpoint_url)
    accounts = tuple(sorted({a.strip() for a in (args.accounts or "").split(",") if a.strip()}))
    bad = [a for a in accounts if not (len(a) == 12 and a.isdigit())]
    if bad:
        raise ToolError(f"--accounts {', '.join(bad)}: give 12-digit account ids, separated by commas")
    org = read_organization(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url,
                            accounts=accounts, role=args.role)
    first = write_blueprint(org, name=args.name)
    catalog = catalog_renderings(first.files["organization.yaml"])
    written = write_blueprint(org, catalog=catalog, use_catalog=args.use_catalog, name=args.name)
    target.mkdir(parents=True, exist_ok=True)
    for name in BLUEPRINT_FILES - set(written.files):  # --force: no file of an earlier import stays behind
        (target / name).unlink(missing_ok=True)
    for name, text in sorted(written.files.items()):
        write_atomically(target / name, text)  # --force replaces files: a crash leaves each whole
    others = sorted(p.name for p in target.glob("*.y*ml") if p.name not in written.files)
    if others:
        err.print(f"warning: {target} holds other YAML files ({', '.join(others)}): every YAML file of the "
                  "directory is part of the blueprint", markup=False)
    for note in org.notes:
        err.print(f"note: {note}", markup=False)
    for warning in written.warnings:
        err.print(f"warning: {warning}", markup=False)
    if not args.quiet:
        out.print(f"imported organization {org.id}: {len(org.units)} OU(s), {len(org.accounts)} account(s), "
                  f"{sum(p.name not in AWS_DEFAULT_POLICIES for p in org.policies)} SCP/RCP(s), "
                  f"IAM of {len(org.iam)} account(s) → {', '.join(str(target / n) for n in sorted(written.files))}; "
                  f"{len(written.warnings)} warning(s)", markup=False)
    return EXIT_OK
