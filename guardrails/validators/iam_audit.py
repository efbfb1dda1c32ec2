"""parliament and cloudsplaining on the emitted policy documents (codes GR801–GR805).

Two independent IAM analyzers read the JSON under ``output/policies`` as written:

- parliament (duo-labs) on identity policies, permission-set inline policies and boundaries with its community
  auditors (privilege escalation), and on SCPs, RCPs and resource policies with its grammar checks only (its
  escalation auditors read grants, and those documents grant nothing to a principal of their own). Trust policies
  are left out: they have no ``Resource`` element, which parliament reads as malformed.
- cloudsplaining (salesforce) on the same identity policies and boundaries; it judges identity policies only.

Both run in one child process (``_iam_audit_worker.py``, the same interpreter) with a scratch HOME: policy_sentry,
which cloudsplaining queries, would otherwise prefer ``~/.policy_sentry``; parliament's import and configuration are
process-global. What counts as high and the false-positive list are in ``external_findings``. A tool that is
missing, crashes or times out raises :class:`ToolError`; a crash on one document is a GR901 error. Never a pass.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrails.diagnostics import Diagnostic, Location, ToolError
from guardrails.policies.ir import Plan
from guardrails.validators._common import shorten
from guardrails.validators._documents import WORST_CASE_ACCOUNT_ID, GeneratedDocument, generated_documents, worst_case
from guardrails.validators.external_findings import (
    CLOUDSPLAINING_RISKS,
    DATA_FILE,
    PARLIAMENT_SEVERITIES,
    KnownFalsePositive,
    RawFinding,
    known_false_positives,
)

WORKER = Path(__file__).with_name("_iam_audit_worker.py")
DEFAULT_TIMEOUT = 600.0  # seconds; the example's ~50 documents (28 distinct) take 4–9 s
PARLIAMENT_FULL = frozenset({"managed", "inline", "permission-set", "boundary"})
PARLIAMENT_GRAMMAR = frozenset({"scp", "rcp", "resource"})
CLOUDSPLAINING_KINDS = PARLIAMENT_FULL
INSTALL_HINT = "run `make install` (parliament and cloudsplaining are pinned in pyproject.toml)"
# parliament's findings that mean it crashed inside, not that the document is risky: never a known false positive.
PARLIAMENT_CRASHES = frozenset({"EXCEPTION"})
# parliament accepts only 12 digits (or * or nothing) as the account of an ARN, and reads any other value as a
# malformed statement, after which it skips every check on the document. AWS accepts more: the account variables
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalaccount)
# and "aws" for AWS managed policies (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns).
# parliament gets 12 digits in their place, the same in every statement, so no statement's reach changes relative
# to another's; its checks count actions, not accounts.
ACCOUNT_STANDINS = (re.compile(r":\$\{aws:(?:PrincipalAccount|ResourceAccount)\}:"), re.compile(r"(?<=:iam::)aws:"))
# Settings that would change cloudsplaining's IAM data (policy_sentry reads it when it is imported).
FOREIGN_SETTINGS = ("CUSTOM_ACCESS_OVERRIDES_FILE",)


@dataclass(frozen=True)
class ToolRun:
    """One tool's share of the audit: its findings and what the build summary shows."""

    name: str  # with the tool's version
    diagnostics: tuple[Diagnostic, ...]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class AuditResult:
    parliament: ToolRun
    cloudsplaining: ToolRun


def check_installed() -> None:
    """Fail fast, before the slower validators, when a tool is missing from this interpreter."""
    missing = [name for name in ("parliament", "cloudsplaining") if importlib.util.find_spec(name) is None]
    if missing:
        raise ToolError(f"{' and '.join(missing)} not installed in {sys.executable}: {INSTALL_HINT}")


def audited_documents(plan: Plan) -> list[GeneratedDocument]:
    """The plan's documents that at least one of the tools reads."""
    return [d for d in generated_documents(plan) if d.kind in PARLIAMENT_FULL | PARLIAMENT_GRAMMAR]


def read_documents(plan: Plan, output_dir: Path) -> dict[str, str]:
    """The emitted text of each audited document that exists under ``output_dir``, keyed by its output path."""
    texts: dict[str, str] = {}
    for document in audited_documents(plan):
        path = output_dir / document.path
        if path.is_file():
            texts[document.path] = path.read_text(encoding="utf-8")
    return texts


def audit(plan: Plan, texts: Mapping[str, str], *, known: Sequence[KnownFalsePositive] | None = None,
          command: Sequence[str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> AuditResult:
    """Run both tools once over the plan's documents as emitted (``texts``: output path → JSON text)."""
    entries = tuple(known_false_positives() if known is None else known)
    documents = audited_documents(plan)
    present = [d for d in documents if d.path in texts]
    missing = [Diagnostic.of("GR804", f"{d.label} is not in the output, so parliament and cloudsplaining did not "
                             "audit it", Location(d.path)) for d in documents if d.path not in texts]
    # Classes of accounts share documents: each distinct (text, checks) is analyzed once, its findings reported at
    # every path that holds it.
    requests: dict[tuple[str, str, bool], dict[str, Any]] = {}
    asked: list[tuple[GeneratedDocument, dict[str, Any]]] = []
    for d in present:
        mode, cloud = ("full" if d.kind in PARLIAMENT_FULL else "grammar"), d.kind in CLOUDSPLAINING_KINDS
        text = readable(texts[d.path])
        request = requests.setdefault((text, mode, cloud), {"path": d.path, "text": text, "parliament": mode,
                                                            "cloudsplaining": cloud})
        asked.append((d, request))
    start = time.perf_counter()
    answer = run_worker(list(requests.values()), command=command, timeout=timeout)
    wall = time.perf_counter() - start
    results = {result["path"]: result for result in answer["results"]}
    parliament = _Collector("parliament", entries)
    cloudsplaining = _Collector("cloudsplaining", entries)
    for document, request in asked:
        result = results[request["path"]]
        if "parliament" in result:
            parliament.add(document, texts[document.path], _parliament_findings(document, result["parliament"]))
        if "cloudsplaining" in result:
            cloudsplaining.add(document, texts[document.path],
                               _cloudsplaining_findings(document, result["cloudsplaining"]))
    versions, seconds = answer["versions"], answer["seconds"]
    left_out = len({a for r in answer["results"] for a in r.get("parliament", {}).get("left_out", ())})
    cloudsplaining_seconds = float(seconds.get("cloudsplaining", 0.0))
    return AuditResult(
        # parliament's share includes starting the process and loading both tools.
        parliament.run(f"parliament {versions.get('parliament', '')}".strip(), missing,
                       {"unknown actions left out": left_out}, wall - cloudsplaining_seconds),
        cloudsplaining.run(f"cloudsplaining {versions.get('cloudsplaining', '')}".strip(), [], {},
                           cloudsplaining_seconds))


def readable(text: str) -> str:
    """The document as parliament can read it, line for line: the per-account placeholders as deployed into the
    worst-case account, and an account ID where AWS allows a variable or "aws" (``ACCOUNT_STANDINS``)."""
    text = worst_case(text)
    text = ACCOUNT_STANDINS[0].sub(f":{WORST_CASE_ACCOUNT_ID}:", text)
    return ACCOUNT_STANDINS[1].sub(f"{WORST_CASE_ACCOUNT_ID}:", text)


def run_worker(documents: list[dict[str, Any]], *, command: Sequence[str] | None = None,
               timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run the worker on the documents; its parsed result. Raises ToolError on a crash, a timeout or bad output."""
    base = list(command) if command is not None else [sys.executable, "-I", str(WORKER)]
    with tempfile.TemporaryDirectory(prefix="guardrails-iam-audit-") as scratch:
        workdir = Path(scratch)
        request, result = workdir / "request.json", workdir / "result.json"
        request.write_text(json.dumps({"documents": documents}), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
        try:
            done = subprocess.run([*base, str(request), str(result)], cwd=workdir, env={**env, "HOME": scratch},
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"parliament/cloudsplaining did not finish within {timeout:.0f} s") from exc
        except OSError as exc:
            raise ToolError(f"cannot run parliament/cloudsplaining ({base[0]}): {exc}; {INSTALL_HINT}") from exc
        if done.returncode != 0:
            raise ToolError(f"parliament/cloudsplaining exited with code {done.returncode}: {_tail(done.stderr)}")
        try:
            answer = json.loads(result.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ToolError(f"parliament/cloudsplaining wrote no readable result ({exc}): "
                            f"{_tail(done.stderr)}") from exc
    _check_shape(answer, documents)
    return answer  # type: ignore[no-any-return]


def _check_shape(answer: object, documents: list[dict[str, Any]]) -> None:
    """Every document asked about comes back, in order, with the tools asked for: a gap would pass unaudited."""
    def answered(result: object, asked: dict[str, Any]) -> bool:
        return (isinstance(result, dict) and result.get("path") == asked["path"]
                and all(isinstance(result.get(tool), dict) for tool in ("parliament", "cloudsplaining") if asked[tool]))

    ok = (isinstance(answer, dict) and isinstance(answer.get("results"), list)
          and isinstance(answer.get("versions"), dict) and isinstance(answer.get("seconds"), dict)
          and len(answer["results"]) == len(documents)
          and all(answered(r, d) for r, d in zip(answer["results"], documents, strict=False)))
    if not ok:
        raise ToolError(f"parliament/cloudsplaining result has an unexpected shape: {str(answer)[:200]}")


# ----------------------------------------------------------------------------- findings


@dataclass
class _Collector:
    """One tool's raw findings across documents → diagnostics, with the false-positive list applied."""

    tool: str
    entries: tuple[KnownFalsePositive, ...]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    granted: dict[str, frozenset[str]] = field(default_factory=dict)  # per audited document: its Allow actions
    used: set[KnownFalsePositive] = field(default_factory=set)
    known: int = 0

    def add(self, document: GeneratedDocument, text: str, findings: Iterator[RawFinding | Diagnostic]) -> None:
        open_findings: dict[str, list[RawFinding]] = {}
        unaudited = False
        for finding in findings:
            if isinstance(finding, Diagnostic):
                unaudited = unaudited or finding.code in {"GR901", "GR805"}
                self.diagnostics.append(finding)
                continue
            entry = next((e for e in self.entries if e.matches(finding)), None)
            if entry is None:
                open_findings.setdefault(finding.finding, []).append(finding)
            else:
                self.used.add(entry)
                self.known += 1
        if not unaudited:  # a tool that crashed or stopped early proves nothing about an entry either way
            self.audited.append(document.path)
            self.granted[document.path] = _allowed_actions(text)
        code = "GR801" if self.tool == "parliament" else "GR802"
        for finding_id, group in sorted(open_findings.items()):
            subjects = sorted({f.subject for f in group})
            actions = [a for f in group for a in f.actions] or subjects
            counted = f" ({len(subjects)})" if len(subjects) > 3 else ""
            self.diagnostics.append(Diagnostic.of(
                code, shorten(f"{self.tool} {finding_id} in {document.label}{counted}: {', '.join(subjects)}"),
                Location(document.path, *_line_of(text, actions))))

    def run(self, name: str, extra: list[Diagnostic], counts: dict[str, int], seconds: float) -> ToolRun:
        stale = [Diagnostic.of("GR803", f"{e.tool} {e.finding} on {e.subject} in {e.documents} matches no finding "
                               "any more: the false positive it explains is gone", Location(DATA_FILE, e.line))
                 for e in self.entries if e.tool == self.tool and e not in self.used
                 and any(e.applies_to(self.tool, path) and e.could_arise(self.granted[path])
                         for path in self.audited)]
        return ToolRun(name, tuple([*extra, *self.diagnostics, *stale]),
                       {"documents": len(self.audited), "known false positives": self.known, **counts}, seconds)


def _allowed_actions(text: str) -> frozenset[str]:
    """The action patterns (lowercase) the document's Allow statements name; empty when it is not policy JSON."""
    try:
        statements = json.loads(text).get("Statement", [])
    except (ValueError, AttributeError):
        return frozenset()
    found: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, dict) and statement.get("Effect") == "Allow":
            actions = statement.get("Action", [])
            found.update(a.lower() for a in ([actions] if isinstance(actions, str) else actions) if isinstance(a, str))
    return frozenset(found)


def _parliament_findings(document: GeneratedDocument, result: dict[str, Any]) -> Iterator[RawFinding | Diagnostic]:
    if "error" in result:
        yield _crash("parliament", document, result["error"])
        return
    for finding in result["findings"]:
        issue, location = str(finding["issue"]), finding.get("location") or {}
        if issue in PARLIAMENT_CRASHES:
            yield _crash("parliament", document, f"{finding.get('detail', '')} {location}".strip())
        elif finding.get("severity") in PARLIAMENT_SEVERITIES:
            actions = tuple(str(a) for a in location.get("actions", ()))
            subject = str(location.get("type") or finding.get("detail") or issue)
            yield RawFinding("parliament", issue, subject, document.path, actions)
    if not result["complete"]:
        stopped = sorted({f"{f['issue']} {f.get('detail', '')}".strip() for f in result["findings"]
                          if f["issue"] in {"UNKNOWN_ACTION", "UNKNOWN_PREFIX", "MALFORMED"}})
        yield Diagnostic.of("GR805", shorten(f"parliament stopped before its checks on {document.label}: "
                                             + ("; ".join(stopped) or "a statement it cannot read")),
                            Location(document.path))


def _cloudsplaining_findings(document: GeneratedDocument,
                             result: dict[str, Any]) -> Iterator[RawFinding | Diagnostic]:
    if "error" in result:
        yield _crash("cloudsplaining", document, result["error"])
        return
    for category in CLOUDSPLAINING_RISKS:
        for item in result["findings"].get(category, ()):
            if isinstance(item, dict):  # PrivilegeEscalation: {"type": method, "actions": [...]}
                yield RawFinding("cloudsplaining", category, str(item.get("type")), document.path,
                                 tuple(str(a) for a in item.get("actions", ())))
            else:
                yield RawFinding("cloudsplaining", category, str(item), document.path, (str(item),))


def _crash(tool: str, document: GeneratedDocument, error: str) -> Diagnostic:
    return Diagnostic.of("GR901", shorten(f"{tool} crashed on {document.label}: {error}"), Location(document.path),
                         f"{tool} did not audit this document, so it cannot pass; report it with the document attached")


def _line_of(text: str, actions: Sequence[str]) -> tuple[int, int]:
    """Line and column of the first action (as written, any case) in the document; (0, 0) when none is literal."""
    lowered = text.lower()
    found = [i for i in (lowered.find(f'"{a.lower()}"') for a in actions) if i >= 0]
    if not found:
        return 0, 0
    offset = min(found)
    return lowered.count("\n", 0, offset) + 1, offset - (lowered.rfind("\n", 0, offset) + 1) + 1


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
