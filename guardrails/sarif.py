"""Diagnostics as SARIF 2.1.0, the format GitHub code scanning reads (``guardrails build|validate --sarif FILE``).

One run, tool ``guardrails``; one rule per diagnostic code of ``guardrails/data/diagnostics.yaml`` (plus any code
seen that the catalog lacks), one result per diagnostic with ``ruleId`` = its code. cfn-lint and checkov findings
arrive as GR601–GR603 and GR701–GR703 with the tool's own rule id leading the message, so rule ids stay stable
when the tools add rules. Output is deterministic: no timestamps, no absolute paths inside the repository, results
sorted by file, line, column, code and message.

Locations are paths relative to the repository root with ``uriBaseId`` ``%SRCROOT%``. Blueprint diagnostics
(GR1xx–GR3xx) name files relative to the working directory, cfn-lint and checkov findings (GR6xx, GR7xx) name
generated files relative to the output directory, and the own checks (GR5xx) either: a blueprint line when a
statement has one, else a generated file; so for those a relative path that does not exist from the working
directory is taken as a generated one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from guardrails.diagnostics import Diagnostic, Severity, code_catalog

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# Placeholder until the project has a public home: set this to the repository's address when it is published.
INFORMATION_URI = "https://github.com/guardrails/guardrails"
SRCROOT = "%SRCROOT%"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}  # anything else (none today) is a "note"
# The code families of guardrails/data/diagnostics.yaml, by first digit: a tag and a sentence for the rule's help.
BLUEPRINT_FAMILIES, OUTPUT_FAMILIES = frozenset("123"), frozenset("67")  # paths from the working dir / output dir
FAMILIES = {
    "1": ("blueprint", "Reading the blueprint's YAML files."),
    "2": ("blueprint", "The blueprint schema: keys, required keys and value types."),
    "3": ("blueprint", "Semantic checks of the blueprint: references, names, AWS rules and limits, risky grants."),
    "4": ("proofs", "Proofs on the plan: the blueprint's access tests, lockout, escalation and control ownership."),
    "5": ("validation", "guardrails' own checks of the generated policies and templates (sizes, grammar, actions)."),
    "6": ("cfn-lint", "cfn-lint on the generated CloudFormation; the cfn-lint rule id leads each message."),
    "7": ("checkov", "checkov on the generated Terraform and CloudFormation; the checkov check id leads each message."),
    "8": ("iam-audit", "parliament and cloudsplaining on the generated policy documents; see docs/validation.md."),
    "9": ("internal", "A validator crashed: a bug in guardrails, never a pass."),
}


def to_sarif(diagnostics: Iterable[Diagnostic], *, tool_version: str, root: Path, output: Path | None = None,
             anchor: Path | None = None, suppressed: Iterable[tuple[Diagnostic, str]] = ()) -> dict[str, Any]:
    """The SARIF log of one run.

    ``root`` is the repository root URIs are relative to; ``output`` the directory validator paths are relative
    to. A diagnostic without a file has no location unless ``anchor`` (a file) is given: GitHub code scanning
    rejects a whole SARIF file in which one result has no location, so the command line anchors those at the
    blueprint. ``suppressed`` are the findings the blueprint accepts (``accepted_warnings``) with the reason: results
    with an accepted external suppression (SARIF 3.35), which code scanning shows as dismissed, not as open.
    """
    root = root.resolve()
    catalog = code_catalog()
    located = [(_location(d, root, output, anchor), d, None) for d in diagnostics]
    located += [(_location(d, root, output, anchor), d, reason) for d, reason in suppressed]
    codes = sorted(set(catalog) | {d.code for _, d, _ in located})
    index = {code: i for i, code in enumerate(codes)}
    results = [_result(d, where, index[d.code], reason) for where, d, reason in located]
    results.sort(key=_result_key)
    driver = {"name": "guardrails", "informationUri": INFORMATION_URI, "version": tool_version,
              "semanticVersion": tool_version, "rules": [_rule(code) for code in codes]}
    run = {"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def write_sarif(path: Path, diagnostics: Iterable[Diagnostic], *, tool_version: str, root: Path,
                output: Path | None = None, anchor: Path | None = None,
                suppressed: Iterable[tuple[Diagnostic, str]] = ()) -> None:
    """Write :func:`to_sarif` as indented JSON with a final newline."""
    log = to_sarif(diagnostics, tool_version=tool_version, root=root, output=output, anchor=anchor,
                   suppressed=suppressed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(log, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def repository_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``.git``; ``start`` itself outside a repository."""
    start = start.resolve()
    return next((d for d in (start, *start.parents) if (d / ".git").exists()), start)


def anchor_file(blueprint: Path) -> Path | None:
    """Where findings without a file are shown: the blueprint's organization.yaml, else its first YAML file."""
    if not blueprint.is_dir():
        return None
    preferred = blueprint / "organization.yaml"
    if preferred.is_file():
        return preferred
    return next((p for p in sorted(blueprint.iterdir()) if p.suffix in (".yaml", ".yml") and p.is_file()), None)


def _rule(code: str) -> dict[str, Any]:
    info = code_catalog().get(code)
    title = info.title if info else f"diagnostic {code}"
    tag, family = FAMILIES.get(code[2:3], ("guardrails", "A guardrails diagnostic."))
    known = "" if info else " This code is not in guardrails/data/diagnostics.yaml."
    help_text = (f"{code}: {title}. {family}{known} Each finding carries its own hint; every code is listed in "
                 "guardrails/data/diagnostics.yaml.")
    level = LEVELS.get(info.severity, "note") if info else "error"
    return {"id": code, "name": _camel(title), "shortDescription": {"text": title},
            "fullDescription": {"text": f"{title} ({family.rstrip('.')})"}, "help": {"text": help_text},
            "defaultConfiguration": {"level": level}, "properties": {"tags": _tags("guardrails", tag)}}


def _tags(*tags: str) -> list[str]:
    """Each tag once: SARIF 2.1.0 (property bags, 3.8.2) makes ``tags`` an array of unique strings, and GitHub's
    upload validates the file against that schema (GitHub Docs, "SARIF support for code scanning")."""
    return list(dict.fromkeys(tags))


def _result(diagnostic: Diagnostic, where: dict[str, Any] | None, rule_index: int,
            accepted: str | None = None) -> dict[str, Any]:
    text = diagnostic.message + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
    result: dict[str, Any] = {"ruleId": diagnostic.code, "ruleIndex": rule_index,
                              "level": LEVELS.get(diagnostic.severity, "note"), "message": {"text": text}}
    if where is not None:
        result["locations"] = [{"physicalLocation": where}]
    if accepted is not None:  # declared in the blueprint, not in the analysed file: an external suppression
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": accepted}]
    return result


def _location(diagnostic: Diagnostic, root: Path, output: Path | None, anchor: Path | None) -> dict[str, Any] | None:
    location = diagnostic.location
    path = _resolve(location.file, diagnostic.code, output) if location is not None and location.file else None
    if location is None or path is None or path.is_dir():  # no file, or a directory: code scanning needs a file
        return None if anchor is None else {"artifactLocation": _artifact(anchor, root)}
    physical: dict[str, Any] = {"artifactLocation": _artifact(path, root)}
    if location.line > 0:  # line 0 means "the whole file"; SARIF lines and columns start at 1
        physical["region"] = {"startLine": location.line}
        if location.column > 0:
            physical["region"]["startColumn"] = location.column
    return physical


def _resolve(file: str, code: str, output: Path | None) -> Path:
    """A diagnostic's file as a path, from the working directory or, for generated files, the output directory.

    A generated file that does not exist (a rejected build keeps it in a sibling directory) still maps into
    ``output``, where the next successful build writes it and where a reviewer looks for it.
    """
    path = Path(file)
    family = code[2:3]
    if path.is_absolute() or output is None or family in BLUEPRINT_FAMILIES:
        return path
    if family in OUTPUT_FAMILIES or not path.exists():
        return output / path
    return path


def _artifact(path: Path, root: Path) -> dict[str, str]:
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(root).as_posix()
    except ValueError:  # outside the repository: an absolute URI, which code scanning shows without a link
        return {"uri": resolved.as_uri()}
    return {"uri": quote(relative), "uriBaseId": SRCROOT}


def _result_key(result: dict[str, Any]) -> tuple[str, int, int, str, str]:
    physical = result.get("locations", [{}])[0].get("physicalLocation", {})
    region = physical.get("region", {})
    return (physical.get("artifactLocation", {}).get("uri", ""), region.get("startLine", 0),
            region.get("startColumn", 0), result["ruleId"], result["message"]["text"])


def _camel(title: str) -> str:
    """``unknown IAM action`` → ``UnknownIAMAction``: SARIF's rule name, an identifier rather than a sentence."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", title) if word)
