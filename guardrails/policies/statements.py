"""Blueprint and catalog statements as canonical IR statements, and the naming helpers the synthesis modules share
(Sids, resource keys, file slugs)."""

from __future__ import annotations

import re
from typing import Any

from guardrails.blueprint.schema import Statement as StatementSpec
from guardrails.policies.ir import Condition, OrgInfo, Statement

# The IAM path of every customer managed policy guardrails creates (job functions, boundaries, MFA).
POLICY_PATH = "/guardrails/"


def camel(name: str) -> str:
    """``terraform-deployer`` → ``TerraformDeployer`` (for Sids, which allow only letters and digits)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def substitute(value: str, info: OrgInfo) -> str:
    """Resolve the organization-wide substitutions; per-account ones stay as placeholders."""
    return value.replace("${partition}", info.partition).replace("${org_id}", info.org_id)


def _conditions(raw: dict[str, dict[str, Any]] | None, info: OrgInfo) -> tuple[Condition, ...]:
    if not raw:
        return ()
    out = []
    for operator, block in raw.items():
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            rendered = tuple(sorted({_scalar(v, info) for v in values}))
            out.append(Condition(operator, key, rendered))
    return tuple(sorted(out))


def _scalar(value: Any, info: OrgInfo) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return substitute(str(value), info)


def _unique(values: list[str] | tuple[str, ...] | None, info: OrgInfo) -> tuple[str, ...]:
    return tuple(sorted({substitute(v, info) for v in values or ()}))


def convert_statement(spec: StatementSpec | dict[str, Any], sid: str, info: OrgInfo, origin: str = "") -> Statement:
    """A blueprint (or catalog) statement as a canonical IR statement: sorted, de-duplicated, substituted."""
    data = spec.model_dump() if isinstance(spec, StatementSpec) else spec
    return Statement(
        sid=data.get("sid") or sid, effect=data.get("effect", "Allow"),
        actions=_unique(data.get("actions"), info), not_actions=_unique(data.get("not_actions"), info),
        resources=_unique(data.get("resources"), info), not_resources=_unique(data.get("not_resources"), info),
        conditions=_conditions(data.get("conditions"), info), origin=origin)



def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")



def ident(name: str) -> str:
    return re.sub(r"\W", "_", name.lower())



def accepted_checks(findings: list[Any]) -> tuple[tuple[str, str], ...]:
    return tuple((f.check, " ".join(f.reason.split())) for f in findings)

