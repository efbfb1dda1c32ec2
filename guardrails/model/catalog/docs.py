"""A guardrail as AWS policy JSON with its default values, its size, and the catalog's Markdown (docs/catalog.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from guardrails.iam.documents import condition_values
from guardrails.model.catalog.entries import CONTEXT_KEYS, Guardrail, Parameter, load_catalog
from guardrails.model.catalog.expansion import expand
from guardrails.model.catalog.parameters import resolve_parameters

_ELEMENTS = (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource"),
             ("not_resources", "NotResource"))


def statement_json(guardrail: Guardrail, template: dict[str, Any], values: Mapping[str, tuple[str, ...]]
                   ) -> dict[str, Any]:
    """A template expanded with ``values`` as AWS policy JSON, the way synthesize renders it (values sorted
    and de-duplicated, conditions by operator and key; ``Principal: "*"`` in RCPs), without the privileged
    exemption and with ``${partition}`` left in place."""
    data = expand(template, values)
    out: dict[str, Any] = {"Sid": data["sid"], "Effect": data["effect"]}
    if guardrail.kind == "rcp":
        out["Principal"] = "*"
    for element, name in _ELEMENTS:
        if data.get(element):
            out[name] = _one_or_list(sorted(set(data[element])))
    conditions: dict[str, dict[str, Any]] = {}
    for operator, key, rendered in sorted((operator, key, tuple(sorted(set(condition_values(value)))))
                                          for operator, block in (data.get("conditions") or {}).items()
                                          for key, value in block.items()):
        conditions.setdefault(operator, {})[key] = _one_or_list(list(rendered))
    if conditions:
        out["Condition"] = conditions
    return out


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


# What docs/catalog.md shows for values taken from the organization (a placeholder per context key).
DOC_CONTEXT = {key: (f"<{key}>",) for key in CONTEXT_KEYS if key not in ("org_id", "boundary_policies")}


def default_values(guardrail: Guardrail, context: Mapping[str, tuple[str, ...]] | None = None
                   ) -> dict[str, tuple[str, ...]]:
    """Every parameter at its default: the context's value where it has one, else the fallback default
    (``context`` defaults to :data:`DOC_CONTEXT`)."""
    return resolve_parameters(guardrail, {}, DOC_CONTEXT if context is None else context)


def policy_json(guardrail: Guardrail, values: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [statement_json(guardrail, t, values) for t in guardrail.statements]}


def minified_size(guardrail: Guardrail, values: Mapping[str, tuple[str, ...]], partition: str = "aws") -> int:
    """Characters of the guardrail alone as a minified policy (exemption not counted)."""
    text = json.dumps(policy_json(guardrail, values), separators=(",", ":"), ensure_ascii=False)
    return len(text.replace("${partition}", partition))


def catalog_markdown(catalog: Mapping[str, Guardrail] | None = None) -> str:
    """``docs/catalog.md``: every guardrail with its rationale, parameters, statements and source."""
    catalog = load_catalog() if catalog is None else catalog
    lines = [
        "# Built-in guardrails",
        "",
        "<!-- Generated from guardrails/data/catalog/ by `guardrails catalog --markdown`; do not edit. -->",
        "",
        "Attach these by id under `guardrails:` at the root, on an OU or on an account (see",
        "[the blueprint format](blueprint.md#scps-guardrails-catalog-and-scps-explicit)); the catalog guardrails of",
        "one kind at one target are packed into as few SCPs (or RCPs) as the size limit allows, a guardrail's",
        "statements always together ([packing](blueprint.md#packing-within-the-quotas)). RCP statements carry",
        "`Principal: \"*\"`. Statements of guardrails marked *exempt privileged*",
        "also get `ArnNotLike aws:PrincipalArn` with the break-glass role and the deployment principals",
        "(`arn:${partition}:iam::*:role/<name>`), which the JSON below leaves out. `${partition}` is the",
        "organization's partition; `<allowed_regions>` and `<privileged_roles>` stand for the organization's values.",
        "Sizes are of the guardrail alone, minified, with its defaults (placeholders counted as written), in the",
        "`aws` partition, without that exemption (limits: SCP 10,240 and RCP 5,120 characters per policy).",
        "",
        "| id | kind | title | exempt privileged | size |",
        "|---|---|---|---|---|",
    ]
    for g in catalog.values():
        lines.append(f"| [`{g.id}`](#{g.id}) | {g.kind.upper()} | {g.title} | "
                     f"{'yes' if g.exempt_privileged else 'no'} | {minified_size(g, default_values(g)):,} |")
    lines += ["", "Parameters taken from the organization (`default_from`):", ""]
    lines += [f"- `{key}`: {meaning}" for key, meaning in CONTEXT_KEYS.items()]
    for g in catalog.values():
        lines += ["", f"## {g.id}", "", f"**{g.title}** ({g.kind.upper()}"
                  f"{', exempts break-glass and deployment roles' if g.exempt_privileged else ''}).", "",
                  g.rationale, "", f"Source: {g.source} — <{g.source_url}>"]
        if g.exception_tag:
            lines += ["", f"Tag-based exception: the tag key is parameter `{g.exception_tag}`; the guardrail denies "
                      "setting or removing that tag to everyone it applies to."]
        if g.parameters:
            lines += ["", "| parameter | type | default | meaning |", "|---|---|---|---|"]
            lines += [f"| `{p.name}` | {p.type}{' (one value)' if p.single else ''} | {_default_text(p)} | "
                      f"{p.description} |" for p in g.parameters.values()]
        lines += ["", "```json", json.dumps(policy_json(g, default_values(g))["Statement"], indent=2), "```"]
    return "\n".join(lines) + "\n"


def _default_text(p: Parameter) -> str:
    if p.type == "boolean":
        return f"`{'true' if p.default else 'false'}`"
    shown = ", ".join(f"`{v}`" for v in p.default or ())
    if p.default_from:
        fallback = f"; otherwise {shown}" if shown else ""
        return f"the organization's `{p.default_from}`{fallback}"
    return shown if p.default is not None and shown else ("none" if p.default == () else "(required)")
