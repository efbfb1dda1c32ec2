"""Checks that every name the blueprint uses exists, statements are well formed, guardrails are attached where
they can work, and the organization's own rules hold."""

from __future__ import annotations

import re
from pathlib import Path

from guardrails.blueprint.schema import Blueprint, OrgUnit, Statement
from guardrails.diagnostics import Diagnostic, Location
from guardrails.iam.arns import policy_arn
from guardrails.model import catalog
from guardrails.model.resolved import (
    CatalogAttachment,
    SUBSTITUTIONS,
    Model,
    _account_hint,
    _POLICY_VARIABLE,
    _PLACEHOLDER,
    _placement_accounts,
    _suggest,
    aws_managed_policy_names,
    region_facts,
)


SAML_METADATA_MAX_BYTES = 1024 * 1024  # copied into Terraform and CloudFormation (templates: 1 MB from S3)
_SAML_METADATA = "urn:oasis:names:tc:SAML:2.0:metadata"


def saml_metadata_problem(directory: Path, metadata_file: str) -> tuple[str, str] | None:
    """Why ``metadata_file`` cannot be a SAML provider's metadata (message, hint), or None when it can.

    It must resolve (symbolic links followed) to a regular file inside the blueprint directory — the output copies
    it into a dozen files, so a path out of the folder would publish whatever it names — of at most 1 MB and at
    least the 1,000 characters AWS requires, and parse as SAML 2.0 IdP metadata: an ``EntityDescriptor`` in the
    metadata namespace with an ``IDPSSODescriptor``
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateSAMLProvider.html). A DOCTYPE is refused
    before parsing, so no entity can expand (xml.etree has no other guard).
    """
    import stat
    import xml.etree.ElementTree as ElementTree

    inside = f"copy the IdP's metadata XML into {directory} and give its path relative to that folder"
    root = directory.resolve()
    try:
        path = (directory / metadata_file).resolve()
    except (OSError, RuntimeError):  # a symbolic-link loop
        return "cannot be resolved (a loop of symbolic links?)", inside
    if path != root and root not in path.parents:
        return "is outside the blueprint directory (symbolic links are followed)", inside
    try:
        info = path.stat()
    except OSError:
        return "not found", "give a path relative to the blueprint directory"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file", inside
    if info.st_size > SAML_METADATA_MAX_BYTES:
        return (f"is {info.st_size:,} bytes, more than the 1 MB guardrails copies into the output",
                "give the metadata of this identity provider only, not an aggregate of many")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text", "save the metadata XML as UTF-8"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})", inside
    download = "download the full metadata XML from your identity provider"
    if not 1000 <= len(text) <= 10_000_000:
        return "is not IdP metadata (AWS accepts 1,000 to 10,000,000 characters)", download
    if "<!doctype" in text.lower():
        return "has a DOCTYPE, which SAML metadata never needs (refused: its entities could expand)", \
            "remove the <!DOCTYPE …> declaration"
    try:
        element = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        return f"is not well-formed XML ({exc})", download
    if element.tag != f"{{{_SAML_METADATA}}}EntityDescriptor":
        return f"is not SAML metadata: the root element is {element.tag!r}, not an EntityDescriptor in " \
            f"{_SAML_METADATA}", download
    if element.find(f"{{{_SAML_METADATA}}}IDPSSODescriptor") is None:
        return "describes no identity provider (no IDPSSODescriptor)", download
    return None


def _check_references(model: Model, problems: list[Diagnostic]) -> None:
    bp = model.blueprint
    src = model.source
    org = bp.organization
    jobs = set(bp.job_functions)
    managed = aws_managed_policy_names()
    if org.break_glass.account not in model.accounts:
        problems.append(Diagnostic.of("GR301", f"unknown break-glass account {org.break_glass.account!r}",
                                      src.where("organization", "break_glass", "account"), _account_hint(model, org.break_glass.account)))
    for name, job in bp.job_functions.items():
        for index, policy in enumerate(job.managed_policies):
            if policy not in managed:
                with_path = sorted(m for m in managed if m.endswith("/" + policy))
                hint = f"did you mean `{with_path[0]}`? (job-function policies carry their path)" if with_path else (
                    _suggest(policy, managed) or "use the name as in the IAM console, with its path (job-function/…)")
                problems.append(Diagnostic.of("GR309", f"{policy!r} is not an AWS managed policy",
                                              src.where("job_functions", name, "managed_policies", index), hint))
        if not job.statements and not job.managed_policies and not job.grants and job.library is None:
            problems.append(Diagnostic.of("GR203", f"job function {name!r} grants nothing", src.where_key("job_functions", name),
                                          "add statements or managed_policies"))
    for section in ("groups", "roles"):
        for name, entry in getattr(bp, section).items():
            for index, job in enumerate(entry.job_functions):
                if job not in jobs:
                    problems.append(Diagnostic.of("GR301", f"unknown job function {job!r}",
                                                  src.where(section, name, "job_functions", index), _suggest(job, jobs)))
    users_in_groups: set[str] = set()
    for name, group in bp.groups.items():
        for index, member in enumerate(group.members):
            if member not in bp.users:
                problems.append(Diagnostic.of("GR301", f"unknown user {member!r}", src.where("groups", name, "members", index),
                                              _suggest(member, set(bp.users)) or "define the user under `users:`"))
                continue
            users_in_groups.add(member)
            missing = set(model.placements[("users", member)]) - set(model.placements[("groups", name)])
            if missing:
                problems.append(Diagnostic.of("GR308", f"user {member!r} is placed in {', '.join(sorted(missing))} where group {name!r} is not",
                                              src.where("groups", name, "members", index),
                                              "place the group wherever its members are, or narrow the user's deploy_to"))
    for name in bp.users:
        if name not in users_in_groups:
            problems.append(Diagnostic.of("GR311", f"user {name!r} is in no group", src.where_key("users", name),
                                          "users get permissions only through groups (CIS 1.15); add it to a group's members"))
        if name in org.break_glass.users:
            problems.append(Diagnostic.of("GR302", f"user {name!r} is also a break-glass user", src.where_key("users", name),
                                          "break-glass users are generated from organization.break_glass; remove this entry"))
    providers_oidc = set(bp.identity_providers.oidc)
    providers_saml = set(bp.identity_providers.saml)
    for name, saml in bp.identity_providers.saml.items():
        problem = saml_metadata_problem(model.source.directory, saml.metadata_file)
        if problem is not None:
            message, hint = problem
            problems.append(Diagnostic.of("GR313", f"SAML metadata file {saml.metadata_file!r} {message}",
                                          src.where("identity_providers", "saml", name, "metadata_file"), hint))
    boundaries = set(bp.permission_boundaries)
    # Entries may share a role name where their accounts differ (one role per account, e.g. a prod and a dev
    # deployer with their own trusts); in one account a name is one role.
    names_seen: dict[str, list[str]] = {}
    reserved = {org.break_glass.role.lower(): ("organization", "break_glass", "role")}
    for key, role in bp.roles.items():
        role_name = role.name or key
        where_role = ("roles", key)
        lowered = role_name.lower()
        before = {a for other in names_seen.get(lowered, []) for a in model.placements.get(("roles", other), ())}
        shared = sorted(before.intersection(model.placements.get(where_role, ())))
        if lowered in reserved or shared:
            where_shared = f" in {', '.join(shared[:6])}" if shared else ""
            problems.append(Diagnostic.of("GR302", f"role name {role_name!r} is used twice{where_shared} "
                                          "(IAM names are case-insensitive)",
                                          src.where_key(*where_role), "give the role a unique `name`, or deploy the "
                                          "entries that share it to different accounts"))
        names_seen.setdefault(lowered, []).append(key)
        if len(role.path) - 1 + len(role_name) > 64 and role.path != "/":
            problems.append(Diagnostic.of("GR320", f"role {role_name!r}: path and name exceed 64 characters",
                                          src.where_key(*where_role), "console switch-role needs path + name ≤ 64"))
        if role.boundary is not None and role.boundary not in boundaries:
            problems.append(Diagnostic.of("GR301", f"unknown permission boundary {role.boundary!r}",
                                          src.where("roles", key, "boundary"), _suggest(role.boundary, boundaries)))
        trust = role.trust
        federated = bool(trust.github_oidc or trust.gitlab_oidc or trust.oidc or trust.saml)
        if trust.require_mfa and not (trust.accounts or trust.organization):
            problems.append(Diagnostic.of(
                "GR307", f"role {key!r} requires MFA but is trusted only by {'federated identities' if federated else 'AWS services'}",
                src.where("roles", key, "trust", "require_mfa"),
                "SAML, OIDC and Identity Center sessions carry no aws:MultiFactorAuthPresent: enforce MFA at the "
                "identity provider and remove require_mfa" if federated else "services never use MFA: remove require_mfa"))
        if trust.github_oidc and trust.github_oidc.provider not in providers_oidc:
            problems.append(Diagnostic.of("GR301", f"unknown OIDC provider {trust.github_oidc.provider!r}",
                                          src.where("roles", key, "trust", "github_oidc"),
                                          "declare it under identity_providers.oidc (url https://token.actions.githubusercontent.com)"))
        if trust.gitlab_oidc and trust.gitlab_oidc.provider not in providers_oidc:
            problems.append(Diagnostic.of("GR301", f"unknown OIDC provider {trust.gitlab_oidc.provider!r}",
                                          src.where("roles", key, "trust", "gitlab_oidc"),
                                          "declare it under identity_providers.oidc (url https://gitlab.com)"))
        elif trust.gitlab_oidc and _gitlab_claims(trust.gitlab_oidc) and \
                bp.identity_providers.oidc[trust.gitlab_oidc.provider].url.rstrip("/") != "https://gitlab.com":
            problems.append(Diagnostic.of(
                "GR311", f"{', '.join(_gitlab_claims(trust.gitlab_oidc))} can be checked only for tokens of gitlab.com",
                src.where("roles", key, "trust", "gitlab_oidc"),
                "AWS offers the GitLab claims as condition keys for https://gitlab.com only; for a self-managed "
                "instance pin `branches`/`tags` (the `sub` claim) and drop them"))
        if trust.oidc and trust.oidc.provider not in providers_oidc:
            problems.append(Diagnostic.of("GR301", f"unknown OIDC provider {trust.oidc.provider!r}",
                                          src.where("roles", key, "trust", "oidc", "provider"), _suggest(trust.oidc.provider, providers_oidc)))
        if trust.saml and trust.saml.provider not in providers_saml:
            problems.append(Diagnostic.of("GR301", f"unknown SAML provider {trust.saml.provider!r}",
                                          src.where("roles", key, "trust", "saml", "provider"), _suggest(trust.saml.provider, providers_saml)))
        for index, account_trust in enumerate(trust.accounts):
            if account_trust.account not in model.accounts and not re.fullmatch(r"\d{12}", account_trust.account):
                problems.append(Diagnostic.of("GR301", f"unknown account {account_trust.account!r}",
                                              src.where("roles", key, "trust", "accounts", index, "account"),
                                              _account_hint(model, account_trust.account) or "use an account name or a 12-digit id"))
            elif account_trust.permission_sets:
                _check_trusted_permission_sets(model, key, index, problems)
        if trust.require_mfa and trust.accounts and not trust.organization and all(
                a.permission_sets and not (a.roles or a.users) for a in trust.accounts):
            problems.append(Diagnostic.of(
                "GR307", f"role {key!r} requires MFA but is trusted only by Identity Center sessions",
                src.where("roles", key, "trust", "require_mfa"),
                "Identity Center sessions carry no aws:MultiFactorAuthPresent (Identity Center enforces MFA at "
                "sign-in): remove require_mfa"))
    group_names: dict[str, str] = {"break-glass": "generated break-glass group"}
    for key in bp.groups:
        if key.lower() in group_names:
            problems.append(Diagnostic.of("GR302", f"group name {key!r} is reserved or used twice", src.where_key("groups", key),
                                          "rename the group"))
        group_names[key.lower()] = key
        if not re.fullmatch(r"[\w+=,.@-]{1,128}", key):
            problems.append(Diagnostic.of("GR303", f"group name {key!r} is not a valid IAM name", src.where_key("groups", key),
                                          "use letters, digits and + = , . @ _ -"))
    for key in list(bp.users) + list(bp.job_functions) + list(bp.permission_boundaries):
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", key):
            problems.append(Diagnostic.of("GR303", f"name {key!r} is not a valid IAM name", Location(src.display_name),
                                          "use 1–64 letters, digits and + = , . @ _ -"))


def _check_trusted_permission_sets(model: Model, key: str, index: int, problems: list[Diagnostic]) -> None:
    """A trust's ``permission_sets``: sets of the blueprint, assigned in that account of the organization (the role
    AWSReservedSSO_<set>_… exists only where the set is assigned)."""
    src = model.source
    center = model.blueprint.identity_center
    entry = model.blueprint.roles[key].trust.accounts[index]
    where = ("roles", key, "trust", "accounts", index)
    account = model.accounts.get(entry.account) or next(
        (a for a in model.accounts.values() if a.id == entry.account), None)
    if account is None:
        problems.append(Diagnostic.of(
            "GR203", f"account {entry.account} is not in the organization: the blueprint's permission sets have "
            "no sessions there", src.where(*where, "account"),
            "trust permission sets in an account of the organization, or name the other account's roles or users"))
        return
    sets = set(center.permission_sets) if center is not None else set()
    assigned: dict[str, set[str]] = {}
    for number, assignment in enumerate(center.assignments if center is not None else ()):
        # Placements were resolved (and their errors reported) by the model stage: not repeated here.
        accounts = _placement_accounts(model, assignment.deploy_to, ("identity_center", "assignments", number), [])
        assigned.setdefault(assignment.permission_set, set()).update(accounts)
    for position, name in enumerate(entry.permission_sets):
        at = src.where(*where, "permission_sets", position)
        if name not in sets:
            problems.append(Diagnostic.of(
                "GR301", f"unknown permission set {name!r}", at, _suggest(name, sets) if sets else
                "the blueprint has no `identity_center` section: declare the set under identity_center.permission_sets"))
        elif account.name not in assigned.get(name, ()):
            problems.append(Diagnostic.of(
                "GR308", f"permission set {name!r} is not assigned in account {account.name!r}: no session of it "
                "exists there to trust", at,
                f"assign it there (identity_center.assignments) or trust an account it is assigned in "
                f"({_some(sorted(assigned.get(name, ()))) or 'none yet'})"))


def _some(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def iter_statements(bp: Blueprint) -> list[tuple[tuple[str | int, ...], Statement]]:
    """Every explicit statement of the blueprint with its YAML path."""
    found: list[tuple[tuple[str | int, ...], Statement]] = []
    for name, job in bp.job_functions.items():
        found += [(("job_functions", name, "statements", i), s) for i, s in enumerate(job.statements)]
    for name, boundary in bp.permission_boundaries.items():
        found += [(("permission_boundaries", name, "statements", i), s) for i, s in enumerate(boundary.statements)]

    def scps(scp_list: list, base: tuple[str | int, ...]) -> None:
        for i, scp in enumerate(scp_list):
            found.extend(((*base, i, "statements", j), s) for j, s in enumerate(scp.statements))

    org = bp.organization
    scps(org.scps, ("organization", "scps"))

    def walk(units: dict[str, OrgUnit], base: tuple[str | int, ...]) -> None:
        for name, unit in units.items():
            scps(unit.scps, (*base, name, "scps"))
            for index, account in enumerate(unit.accounts):
                scps(account.scps, (*base, name, "accounts", index, "scps"))
            walk(unit.units, (*base, name, "units"))

    walk(org.units, ("organization", "units"))
    return found


def _check_statements(model: Model, problems: list[Diagnostic]) -> None:
    src = model.source
    for path, statement in iter_statements(model.blueprint):
        if statement.sid is not None and not re.fullmatch(r"[A-Za-z0-9]+", statement.sid):
            problems.append(Diagnostic.of("GR203", f"Sid {statement.sid!r} may hold only letters and digits",
                                          src.where(*path, "sid"), "IAM rejects other characters in Sid"))
        for element in ("resources", "not_resources"):
            for index, value in enumerate(getattr(statement, element) or []):
                if not value.strip():
                    problems.append(Diagnostic.of("GR203", "empty resource", src.where(*path, element, index),
                                                  "write an ARN (arn:${partition}:…) or `*`; IAM rejects an empty one"))
                    continue
                if value.count("${") > value.count("}") or _PLACEHOLDER.sub("", value).find("${") >= 0:
                    problems.append(Diagnostic.of("GR306", "a ${ is never closed", src.where(*path, element, index),
                                                  "close the substitution or policy variable with }, e.g. ${aws:username}"))
                    continue
                for name in _PLACEHOLDER.findall(value):
                    if name not in SUBSTITUTIONS and not _POLICY_VARIABLE.match(name):
                        problems.append(Diagnostic.of(
                            "GR306", f"unknown substitution ${{{name}}}", src.where(*path, element, index),
                            _suggest(name, set(SUBSTITUTIONS)) or f"use one of {', '.join('${' + s + '}' for s in SUBSTITUTIONS)}"
                            " or an IAM policy variable such as ${aws:username}"))
                if _literal_partition(value):
                    problems.append(Diagnostic.of("GR306", "partition written literally in an ARN", src.where(*path, element, index),
                                                  LITERAL_PARTITION_HINT))
    for name, job in model.blueprint.job_functions.items():  # grants name ARNs too, compiled into the same statements
        for number, grant in enumerate(job.grants):
            for index, value in enumerate(grant.resources):
                if _literal_partition(value):
                    problems.append(Diagnostic.of(
                        "GR306", "partition written literally in a grant's resource ARN",
                        src.where("job_functions", name, "grants", number, "resources", index), LITERAL_PARTITION_HINT))


LITERAL_PARTITION_HINT = "write arn:${partition}:… so the blueprint works in every partition"


def _literal_partition(value: str) -> bool:
    """``arn:aws:`` or ``arn:aws-cn:``/``arn:aws-us-gov:`` written out: wrong in every other partition
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""
    return value.startswith(("arn:aws:", "arn:aws-"))


def guardrail_attachments(bp: Blueprint) -> list[tuple[str, tuple[str | int, ...], list]]:
    """(target, YAML path of the attachment list's owner, catalog refs) for root, every OU and account."""
    org = bp.organization
    found: list[tuple[str, tuple[str | int, ...], list]] = [("root", ("organization",), org.guardrails)]

    def walk(units: dict[str, OrgUnit], parent: str, base: tuple[str | int, ...]) -> None:
        for name, unit in units.items():
            path = f"{parent}/{name}" if parent else name
            found.append((f"ou:{path}", (*base, name), unit.guardrails))
            for index, account in enumerate(unit.accounts):
                found.append((f"account:{account.name}", (*base, name, "accounts", index), account.guardrails))
            walk(unit.units, path, (*base, name, "units"))

    walk(org.units, "", ("organization", "units"))
    return found


def catalog_attachments(bp: Blueprint) -> list[CatalogAttachment]:
    """Every catalog reference of the tree in its one shape; a malformed one (a mapping of several keys) is left
    out here and reported by the model stage."""
    found = []
    for target, owner, refs in guardrail_attachments(bp):
        for index, ref in enumerate(refs):
            if isinstance(ref, str):
                found.append(CatalogAttachment(target, owner, index, ref, {}))
            elif isinstance(ref, dict) and len(ref) == 1:
                guardrail_id, given = next(iter(ref.items()))
                found.append(CatalogAttachment(target, owner, index, guardrail_id, dict(given or {})))
    return found


def _check_guardrail_refs(model: Model, problems: list[Diagnostic]) -> None:
    """Catalog references: known ids, once per target, parameters that exist and whose values fit their type
    (regions, ARNs, account and organization ids, action names), each error at the value."""
    known = catalog.load_catalog()
    bp = model.blueprint
    org = bp.organization
    # The same context values synthesize passes (catalog.CONTEXT_KEYS), as far as the checks here need them.
    context = {"allowed_regions": tuple(org.allowed_regions), "privileged_roles": (org.break_glass.role,),
               "org_id": (org.id,),
               "boundary_policies": tuple(sorted(
                   policy_arn("${partition}", "*", b.path or "/guardrails/", b.name or key)
                   for key, b in bp.permission_boundaries.items()))}
    regions = set(region_facts()["records_global_iam"]) | set(region_facts()["launched_later"])
    accounts = {name: info.id for name, info in model.accounts.items() if info.id}
    model.attachments = tuple(catalog_attachments(bp))
    for _target, owner, refs in guardrail_attachments(bp):
        seen: set[str] = set()
        for index, ref in enumerate(refs):
            where = (*owner, "guardrails", index)
            if isinstance(ref, dict) and len(ref) != 1:
                problems.append(Diagnostic.of("GR203", "a guardrail with parameters is a mapping with exactly one key",
                                              model.source.where(*where), "write `- region-restriction: {allowed_regions: [...]}`"))
                continue
            guardrail_id, given = (ref, {}) if isinstance(ref, str) else next(iter(ref.items()))
            if guardrail_id not in known:
                problems.append(Diagnostic.of("GR301", f"unknown guardrail {guardrail_id!r}", model.source.where(*where),
                                              (_suggest(guardrail_id, set(known)) + " — `guardrails catalog` lists them").lstrip(" —")))
                continue
            if guardrail_id in seen:
                problems.append(Diagnostic.of("GR302", f"guardrail {guardrail_id!r} is attached twice here",
                                              model.source.where(*where), "remove one"))
            seen.add(guardrail_id)
            guardrail = known[guardrail_id]
            try:
                values = catalog.resolve_parameters(guardrail, given or {}, context)
            except catalog.ParameterError as exc:
                at = (*where, guardrail_id, exc.parameter) if exc.parameter else where
                problems.append(Diagnostic.of("GR203", str(exc), model.source.where_key(*at), exc.hint))
                continue
            # Defaults are the catalog's own (checked by tests/test_catalog.py); only given values are checked.
            # Action names are checked against the IAM database in the policies stage (guardrails.policies.names).
            for name in sorted(given or {}, key=list(guardrail.parameters).index):
                spec = guardrail.parameters[name]
                listed = isinstance(given[name], list)
                for position, message, hint in catalog.value_problems(spec, values[name], regions=regions,
                                                                      accounts=accounts, partition=org.partition):
                    at = (*where, guardrail_id, name, position) if listed else (*where, guardrail_id, name)
                    code = "GR310" if spec.type == "regions" else "GR203"
                    problems.append(Diagnostic.of(code, f"{message} (parameter {name!r} of {guardrail_id!r})"
                                                  if code == "GR203" else message, model.source.where(*at), hint))


def _check_organization_rules(model: Model, problems: list[Diagnostic]) -> None:
    """Rules of Organizations that the outputs could not honour if the blueprint broke them."""
    bp = model.blueprint
    src = model.source
    for path, statement in iter_statements(bp):
        if path[0] != "organization":
            continue
        # Condition keys and values too: the emitters refuse these placeholders anywhere in an SCP.
        texts = [(("resources",), statement.resources or []), (("not_resources",), statement.not_resources or [])]
        for operator, clause in (statement.conditions or {}).items():
            for key, value in clause.items():
                texts.append((("conditions", operator, key), [key, *(value if isinstance(value, list) else [value])]))
        for element, strings in texts:
            text = " ".join(str(s) for s in strings)
            for placeholder in ("${account_id}", "${region}"):
                if placeholder in text:
                    problems.append(Diagnostic.of(
                        "GR306", f"{placeholder} cannot be used in an SCP", src.where(*path, *element),
                        "an SCP is one document for many accounts and regions: use `*` or the aws:PrincipalAccount / "
                        "aws:RequestedRegion condition keys"))
    for unit in model.units.values():
        parent = model.units.get(unit.parent)
        if unit.spec.id and parent is not None and not parent.spec.id:
            problems.append(Diagnostic.of(
                "GR308", f"OU {unit.path!r} exists (id {unit.spec.id}) but its parent {parent.path!r} would be created",
                src.where("organization", "units", *_unit_yaml(unit.path), "id"),
                "an existing OU cannot move under a new one: give the parent OU its existing id too"))
    if bp.organization.partition == "aws-us-gov":
        for account in model.accounts.values():
            if not account.management and not account.existing:
                problems.append(Diagnostic.of(
                    "GR311", f"GovCloud account {account.name!r} must be marked existing",
                    src.where(*account.yaml_path, "name"),
                    "GovCloud accounts are created from the commercial partition (CreateGovCloudAccount): create it "
                    "there, then set `existing: true`"))


def _unit_yaml(path: str) -> list[str]:
    out: list[str] = []
    for index, part in enumerate(path.split("/")):
        if index:
            out.append("units")
        out.append(part)
    return out


def _gitlab_claims(gl: object) -> list[str]:
    """The `gitlab_oidc` fields that become condition keys of their own (not `sub`)."""
    return [name for name in ("protected_refs_only", "project_id", "namespace_id") if getattr(gl, name)]
