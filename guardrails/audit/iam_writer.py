"""``guardrails import``: the IAM of the accounts given with ``--accounts`` → the blueprint's identity sections.

Roles (with their inline policies), groups, users, customer managed policies (as job functions that keep the live
policy's name, path and description, ``existing``), boundaries (likewise) and the password policy. What the
blueprint cannot say (a trust it has no words for, a user's own policies, a group's inline policy kept inline, a
service-linked role) is a comment and a warning.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from guardrails.audit.yaml_text import Map
from guardrails.policies.statements import camel

if TYPE_CHECKING:
    from guardrails.audit.blueprint_writer import _Writer
    from guardrails.audit.reader import LiveRole

_SKIPPED_PATHS = ("/aws-service-role/", "/aws-reserved/")
# Roles AWS creates for the organization and StackSets: guardrails relies on them, never manages them.
_AWS_CREATED = ("OrganizationAccountAccessRole", "AWSControlTowerExecution")
_PASSWORD = (("MinimumPasswordLength", "minimum_length", 6), ("RequireSymbols", "require_symbols", False),
             ("RequireNumbers", "require_numbers", False), ("RequireUppercaseCharacters", "require_uppercase", False),
             ("RequireLowercaseCharacters", "require_lowercase", False),
             ("AllowUsersToChangePassword", "allow_users_to_change", False), ("MaxPasswordAge", "max_age", 0),
             ("PasswordReusePrevention", "reuse_prevention", 0), ("HardExpiry", "hard_expiry", False))


# An AWS principal of a trust policy: an account id, its root, or one of its roles or users (path ignored).
_AWS_PRINCIPAL = re.compile(r"(?:arn:aws[\w-]*:iam::)?(\d{12})(?::(root|role/(?:.*/)?([^/]+)|user/(?:.*/)?([^/]+)))?")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trust_map(doc: Any, names: dict[str, str]) -> tuple[Map | None, str | None]:
    """A live trust policy → the blueprint's ``trust``, or why it cannot be one."""
    services: set[str] = set()
    accounts: dict[str, tuple[set[str], set[str]]] = {}  # account → (role names, user names)
    external: set[str] = set()
    mfa = False
    for statement in _list(doc.get("Statement", []) if isinstance(doc, dict) else []):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            return None, "a trust statement that is not a plain Allow"
        if set(_list(statement.get("Action", []))) - {"sts:AssumeRole", "sts:TagSession"}:
            return None, f"trust actions {statement.get('Action')} (only sts:AssumeRole is expressible)"
        condition = statement.get("Condition") or {}
        for operator, keys in condition.items():
            for key, value in keys.items():
                if operator == "StringEquals" and key == "sts:ExternalId":
                    external.update(map(str, _list(value)))
                elif operator in ("Bool", "BoolIfExists") and key == "aws:MultiFactorAuthPresent" and \
                        str(_list(value)[0]).lower() == "true":
                    mfa = True
                else:
                    return None, f"trust condition {operator} {key}"
        principal = statement.get("Principal", {})
        if not isinstance(principal, dict) or set(principal) - {"Service", "AWS"}:
            return None, f"trust principal {principal} (federated principals are expressible only through the " \
                         "blueprint's identity providers)"
        services.update(map(str, _list(principal.get("Service", []))))
        for arn in map(str, _list(principal.get("AWS", []))):
            match = _AWS_PRINCIPAL.fullmatch(arn)
            if not match:
                return None, f"trust principal {arn}"
            role_names, user_names = accounts.setdefault(names.get(match.group(1), match.group(1)), (set(), set()))
            if match.group(3):
                role_names.add(match.group(3))
            if match.group(4):
                user_names.add(match.group(4))
    if len(external) > 1:
        return None, "several external ids"
    out = Map()
    if services:
        out.add("services", sorted(services))
    if accounts:
        entries = []
        for name, principals in sorted(accounts.items()):
            entry = Map().add("account", name)
            for kind, principal_names in zip(("roles", "users"), principals, strict=True):
                if principal_names:
                    entry.add(kind, sorted(principal_names))
            entries.append(entry)
        out.add("accounts", entries)
    if not out.items:
        return None, "a trust policy with no principal"
    if mfa:
        out.add("require_mfa", True)
    if external:
        out.add("external_id", external.pop())
    return out, None


def identity_sections(writer: _Writer, jobs: dict[str, Map]) -> Map:
    from guardrails.audit.blueprint_writer import _statements

    boundaries: dict[str, Map] = {}
    roles, groups, users = Map(), Map(), Map()
    notes: list[str] = []
    passwords: list[tuple[str, dict[str, Any] | None]] = []
    for iam in writer.org.iam:
        account = writer.names[iam.account_id]
        where = f"account {account}"
        policy_docs = {p.arn: p for p in iam.policies}
        boundary_arns = {r.boundary for r in iam.roles if r.boundary} | {u.boundary for u in iam.users if u.boundary}
        policy_jobs: dict[str, str] = {}
        descriptions = dict(iam.descriptions)
        for policy in iam.policies:
            statements, problem = _statements(policy.document, camel(policy.name))
            if problem:
                notes.append(writer.warn(where, f"policy {policy.arn}: {problem}: not imported"))
                continue
            # The live policy's own name, path and description (none can change in place): Terraform imports it
            # by ARN, and its document is the live one's statements, checked like any of the blueprint's.
            description = descriptions.get(policy.arn, "")
            if policy.arn in boundary_arns:
                entry = Map().add("name", policy.name)
                if policy.path != "/guardrails/":
                    entry.add("path", policy.path)
                boundaries[_slug(policy.name)] = entry.add("existing", True).add(
                    "description", description, f"imported from {policy.arn}").add("statements", statements)
            if any(policy.arn in r.attached for r in iam.roles) or any(policy.arn in g.attached for g in iam.groups) \
                    or policy.arn not in boundary_arns:
                job = f"{_slug(policy.name)}-{account}"
                entry = Map().add("description", description, f"imported unchanged from {policy.arn}")
                if policy.arn in boundary_arns:
                    # One IAM policy cannot be two entries: the job function gets a policy of its own.
                    notes.append(writer.warn(where, f"customer managed policy {policy.arn} is a boundary and "
                                             f"attached: job function {job} is deployed as guardrails-{job} under "
                                             "/guardrails/ beside it"))
                else:
                    entry.add("policy_name", policy.name)
                    if policy.path != "/guardrails/":
                        entry.add("policy_path", policy.path)
                    entry.add("existing", True)
                jobs[job] = entry.add("statements", statements)
                policy_jobs[policy.arn] = job

        def job_functions(kind: str, name: str, attached: tuple[str, ...], inline: tuple[tuple[str, Any], ...],
                          ) -> list[str]:
            """The job functions of an identity's attached policies, and (for groups) of its inline ones."""
            out = []
            managed = sorted(a.split(":policy/", 1)[1] for a in attached if ":iam::aws:policy/" in a)
            if managed:
                job = f"{kind}-{_slug(name)}-{account}-aws"
                jobs[job] = Map().add("description", f"AWS managed policies of {kind} {name} in {account}").add(
                    "managed_policies", managed)
                out.append(job)
            out += [policy_jobs[a] for a in attached if a in policy_jobs]
            for policy_name, document in inline:
                statements, problem = _statements(document, camel(policy_name))
                if problem:
                    notes.append(writer.warn(where, f"{kind} {name}: inline policy {policy_name}: {problem}: not "
                                             "imported"))
                    continue
                job = f"{kind}-{_slug(name)}-{_slug(policy_name)}-{account}"
                jobs[job] = Map().add("description", f"Inline policy {policy_name} of {kind} {name} in {account}, "
                                      "imported unchanged (guardrails deploys it as a managed policy)").add(
                    "statements", statements)
                notes.append(writer.warn(where, f"{kind} {name}: inline policy {policy_name} becomes job function "
                                         f"{job}, a managed policy (only roles keep inline policies): delete the "
                                         "inline policy after the first apply"))
                out.append(job)
            return out

        for role in iam.roles:
            if role.path.startswith(_SKIPPED_PATHS) or role.name in _AWS_CREATED:
                continue
            _role(writer, roles, role, account, where, notes, job_functions, policy_docs)
        for group in iam.groups:
            members = sorted(u.name for u in iam.users if group.name in u.groups)
            entry = Map().add("job_functions", job_functions("group", group.name, group.attached, group.inline))
            if members:
                entry.add("members", members)
            if group.path != "/":
                entry.add("path", group.path)
            entry.add("deploy_to", Map().add("accounts", [account]))
            entry.add("existing", True)
            groups.add(group.name if group.name not in dict((k, 0) for k, _, _ in groups.items) else
                       f"{group.name}-{account}", entry)
        for user in iam.users:
            entry = Map()
            if user.path != "/":
                entry.add("path", user.path)
            entry.add("deploy_to", Map().add("accounts", [account]))
            if user.attached or user.inline or user.boundary:
                notes.append(writer.warn(where, f"user {user.name}: its own policies or boundary are not imported "
                                         "(the blueprint grants users through groups, CIS 1.15)"))
            entry.add("existing", True)
            users.add(user.name, entry)
        passwords.append((account, iam.password_policy))
    out = Map()
    for note in notes:
        out.add(f"# {note}", None)
    if jobs:
        out.add("job_functions", Map(items=[(k, v, ()) for k, v in sorted(jobs.items())]))
    if boundaries:
        out.add("permission_boundaries", Map(items=[(k, v, ()) for k, v in sorted(boundaries.items())]))
    for key, value in (("groups", groups), ("users", users), ("roles", roles)):
        if value.items:
            out.add(key, value)
    _password(writer, out, passwords)
    return out


def _role(writer: _Writer, roles: Map, role: LiveRole, account: str, where: str, notes: list[str], job_functions: Any,
          policy_docs: dict[str, Any]) -> None:
    from guardrails.audit.blueprint_writer import _statements

    trust, problem = trust_map(role.trust, writer.names)
    if trust is None:
        notes.append(writer.warn(where, f"role {role.name}: {problem}: not imported"))
        return
    key = role.name if role.name not in {k for k, _, _ in roles.items} else f"{role.name}-{account}"
    entry = Map()
    if key != role.name:
        entry.add("name", role.name)
    if role.description:
        entry.add("description", role.description)
    if role.path != "/":
        entry.add("path", role.path)
    entry.add("trust", trust)
    entry.add("job_functions", job_functions("role", role.name, role.attached, ()))
    inline = Map()
    for policy_name, document in role.inline:
        statements, problem = _statements(document, camel(policy_name))
        if problem:
            notes.append(writer.warn(where, f"role {role.name}: inline policy {policy_name}: {problem}: not imported"))
            continue
        inline.add(policy_name, Map().add("statements", statements))
    if inline.items:
        entry.add("inline_policies", inline)
    if role.boundary:
        if role.boundary in policy_docs:
            entry.add("boundary", _slug(policy_docs[role.boundary].name))
        else:
            notes.append(writer.warn(where, f"role {role.name}: boundary {role.boundary} is not a customer managed "
                                     "policy of the account: not imported"))
    if role.max_session_duration != 3600:
        entry.add("max_session_duration", role.max_session_duration)
    entry.add("deploy_to", Map().add("accounts", [account]))
    if role.tags:
        entry.add("tags", Map(items=[(k, v, ()) for k, v in role.tags]))
    entry.add("existing", True)
    roles.add(key, entry)


def _password(writer: _Writer, out: Map, passwords: list[tuple[str, dict[str, Any] | None]]) -> None:
    read = [(a, p) for a, p in passwords if p is not None]
    if not passwords:
        return
    if not read:
        out.add("password_policy", "cis", "no imported account has a password policy: guardrails sets CIS's")
        return
    account, live = read[0]
    values = Map()
    for key, attribute, default in _PASSWORD:
        value = live.get(key, default)
        values.add(attribute, 0 if value in (None, "") else value)
    values.add("existing", True)
    differing = [a for a, p in passwords if p != live]
    comments = [f"read from account {account}: imported, not created"]
    if differing:
        comments.append(writer.warn("password_policy", f"the blueprint has one password policy; {', '.join(differing)}"
                                    f" differ from {account}'s (applied everywhere after import)"))
    out.add("password_policy", values, *comments)
