"""Known false positives of parliament and cloudsplaining, read from ``guardrails/data/external_findings.yaml``.

Each entry names one tool, one finding id, the subject it is about (an escalation method or an action; fnmatch,
case-insensitive), the emitted documents it applies to (fnmatch on the path in the output, e.g.
``policies/accounts/*/managed/guardrails-developer-*.json``) and the reason a reviewer can judge.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from importlib import resources

import yaml

from guardrails.iam.actions import action_matcher

DATA_FILE = "guardrails/data/external_findings.yaml"
# What counts as high (docs/validation.md): parliament's own HIGH and CRITICAL severities; of cloudsplaining's risk
# categories the three it rates high (ISSUE_SEVERITY) plus DataExfiltration, which its --high-priority-only adds.
PARLIAMENT_SEVERITIES = frozenset({"HIGH", "CRITICAL"})
CLOUDSPLAINING_RISKS = ("PrivilegeEscalation", "ResourceExposure", "CredentialsExposure", "DataExfiltration")
TOOLS = ("parliament", "cloudsplaining")
FIELDS = frozenset({"tool", "finding", "subject", "documents", "reason"})
# Optional: the actions without which the finding cannot arise. An entry whose documents pattern covers every
# blueprint's policies (guardrails-*.json) is stale only on a document that grants one of them, so a blueprint
# without such a grant is not told to edit the package's data.
OPTIONAL_FIELDS = frozenset({"requires"})


class ExternalFindingsError(ValueError):
    """The false-positive list is malformed (a bug in the package data, caught by the tests)."""


@dataclass(frozen=True)
class RawFinding:
    """One finding of one tool on one document, before the false-positive list is applied."""

    tool: str
    finding: str  # parliament issue id (PRIVILEGE_ESCALATION) or cloudsplaining category (CredentialsExposure)
    subject: str  # the escalation method, the action, or parliament's detail text
    path: str  # the document's path in the output
    actions: tuple[str, ...] = ()  # the actions the finding names, to point at a line


@dataclass(frozen=True)
class KnownFalsePositive:
    tool: str
    finding: str
    subject: str
    documents: str
    reason: str
    line: int = 0  # in DATA_FILE, for the stale warning
    requires: tuple[str, ...] = ()  # action names; lowercase

    def applies_to(self, tool: str, path: str) -> bool:
        return tool == self.tool and fnmatch.fnmatchcase(path, self.documents)

    def could_arise(self, granted: frozenset[str]) -> bool:
        """Whether a document granting these action patterns (lowercase) can produce the finding at all."""
        return not self.requires or any(map(action_matcher(tuple(sorted(granted))), self.requires))

    def matches(self, finding: RawFinding) -> bool:
        return (self.applies_to(finding.tool, finding.path) and finding.finding == self.finding
                and fnmatch.fnmatchcase(finding.subject.lower(), self.subject.lower()))


def known_false_positives(text: str | None = None) -> tuple[KnownFalsePositive, ...]:
    """The entries of the package's list (or of ``text``); raises :class:`ExternalFindingsError` on a bad entry."""
    if text is None:
        text = resources.files("guardrails.data").joinpath("external_findings.yaml").read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise ExternalFindingsError(f"{DATA_FILE}: expected a list of entries")
    return tuple(_entry(item) for item in node.value)


def _entry(node: yaml.Node) -> KnownFalsePositive:
    line = node.start_mark.line + 1
    raw = yaml.safe_load(yaml.serialize(node))
    where = f"{DATA_FILE}:{line}"
    if not isinstance(raw, dict) or set(raw) - OPTIONAL_FIELDS != FIELDS:
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ExternalFindingsError(f"{where}: an entry has exactly the keys {sorted(FIELDS)} (and optionally "
                                    f"{', '.join(sorted(OPTIONAL_FIELDS))}), not {got}")
    requires = raw.pop("requires", [])
    if not all(isinstance(value, str) and value.strip() for value in raw.values()):
        raise ExternalFindingsError(f"{where}: every value is a non-empty string")
    if not (isinstance(requires, list) and all(isinstance(a, str) and ":" in a for a in requires)):
        raise ExternalFindingsError(f"{where}: requires is a list of action names (service:Action)")
    if raw["tool"] not in TOOLS:
        raise ExternalFindingsError(f"{where}: tool is one of {', '.join(TOOLS)}, not {raw['tool']!r}")
    if raw["tool"] == "cloudsplaining" and raw["finding"] not in CLOUDSPLAINING_RISKS:
        raise ExternalFindingsError(f"{where}: cloudsplaining findings counted as high are "
                                    f"{', '.join(CLOUDSPLAINING_RISKS)}, not {raw['finding']!r}")
    if not raw["documents"].startswith("policies/"):
        raise ExternalFindingsError(f"{where}: documents is a pattern on the output path, starting with policies/")
    return KnownFalsePositive(raw["tool"], raw["finding"], raw["subject"], raw["documents"],
                              " ".join(raw["reason"].split()), line, tuple(a.lower() for a in requires))
