"""``guardrails import``: an :class:`~guardrails.audit.importer.ImportedOrganization` → blueprint YAML files.

Pure (no AWS calls, no files): the CLI writes the texts. What the blueprint format cannot express is written as a
comment where it would sit and returned as a warning line, never dropped silently. Output is deterministic: the
reader sorts everything, and nothing here depends on time or hash order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guardrails.audit.compare import same_document
from guardrails.audit.importer import ImportedOrganization, ImportedOrgPolicy
from guardrails.audit.org_reader import AWS_DEFAULT_POLICIES
from guardrails.audit.yaml_text import Commented, Map, render
from guardrails.policies.statements import camel

_SID = re.compile(r"^[A-Za-z0-9]+$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
BREAK_GLASS_USER = "break-glass-1"
# The blueprint's patterns for the Identity Center instance and identity store (schema_identity_center.py).
_INSTANCE = re.compile(r"^arn:aws(-cn|-us-gov)?:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$")
_STORE = re.compile(r"^d-[0-9a-f]{10}$")


@dataclass
class Written:
    files: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def account_names(org: ImportedOrganization) -> dict[str, str]:
    """Account id → a blueprint name (lowercase, digits, dashes; unique), from the live account name."""
    out: dict[str, str] = {}
    for account in org.accounts:
        base = re.sub(r"[^a-z0-9]+", "-", account.name.lower()).strip("-")[:40] or "account"
        if not base[0].isalnum():
            base = "a" + base
        name = base if base not in out.values() else f"{base}-{account.id[-4:]}"
        out[account.id] = name
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _partition(value: str) -> str:
    """``arn:aws:…`` → ``arn:${partition}:…``: the blueprint writes the partition as a substitution (GR306); the
    same document in the partition the blueprint names."""
    return re.sub(r"^arn:aws(-cn|-us-gov)?:", "arn:${partition}:", value)


def _statement(raw: Any, sid: str) -> tuple[Map | None, str | None]:
    """A live statement → blueprint statement, or why it cannot be one."""
    if not isinstance(raw, dict):
        return None, "a statement that is not an object"
    extra = sorted(set(raw) - _STATEMENT_KEYS)
    if extra:
        return None, f"statement elements the blueprint's statements do not have: {', '.join(extra)}"
    out = Map().add("sid", raw["Sid"] if _SID.match(str(raw.get("Sid", ""))) else sid)
    out.add("effect", raw.get("Effect", "Allow"))
    for element, key in (("Action", "actions"), ("NotAction", "not_actions"), ("Resource", "resources"),
                         ("NotResource", "not_resources")):
        if element in raw:
            out.add(key, [_partition(str(v)) if "Resource" in element else str(v) for v in _list(raw[element])])
    if "Condition" in raw and isinstance(raw["Condition"], dict):
        out.add("conditions", {op: {k: [_partition(str(x)) for x in v] if isinstance(v, list) else
                                    _partition(v) if isinstance(v, str) else v for k, v in keys.items()}
                               for op, keys in raw["Condition"].items()})
    return out, None


def _statements(doc: Any, prefix: str) -> tuple[list[Map], str | None]:
    raw = doc.get("Statement", []) if isinstance(doc, dict) else []
    out = []
    for index, item in enumerate(_list(raw)):
        converted, problem = _statement(item, f"{prefix}{index + 1}")
        if converted is None:
            return [], problem
        out.append(converted)
    return out, None


class _Writer:
    def __init__(self, org: ImportedOrganization, catalog: Mapping[str, Any], use_catalog: bool, name: str) -> None:
        self.org, self.catalog, self.use_catalog, self.name = org, catalog, use_catalog, name
        self.names = account_names(org)
        self.warnings: list[str] = []
        self.targets: dict[str, str] = {org.root_id: "the root"}
        self.targets.update({u.id: f"OU {u.path}" for u in org.units})
        self.targets.update({a.id: f"account {self.names[a.id]}" for a in org.accounts})
        # Each policy is written at its first target (root, OUs by path, accounts by id); elsewhere a comment.
        self.placed: dict[str, str] = {}
        self.intended: dict[str, str] = {}  # catalog guardrails recognised that deny break-glass
        order = [org.root_id, *(u.id for u in org.units), *(a.id for a in org.accounts)]
        for policy in org.policies:
            first = next((t for t in order if t in policy.targets), None)
            if first is not None:
                self.placed[policy.id] = first

    def warn(self, where: str, text: str) -> str:
        self.warnings.append(f"{where}: {text}")
        return text

    # -- SCPs and RCPs ------------------------------------------------------------------------------------

    def catalog_match(self, policy: ImportedOrgPolicy) -> str | None:
        kind = "scp" if policy.kind == "SERVICE_CONTROL_POLICY" else "rcp"
        for guardrail, (gkind, doc, *_) in sorted(self.catalog.items()):
            if gkind == kind and same_document(doc, policy.document):
                return guardrail
        return None

    def policies_at(self, target: str, node: Map) -> None:
        guardrails: list[Any] = []
        scps: list[Any] = []
        notes: list[str] = []
        for policy in self.org.policies:
            if target not in policy.targets or policy.name in AWS_DEFAULT_POLICIES:
                continue
            label = f"{'SCP' if policy.kind == 'SERVICE_CONTROL_POLICY' else 'RCP'} {policy.id} ({policy.name})"
            where = self.targets[target]
            if self.placed.get(policy.id) != target:
                notes.append(self.warn(where, f"{label} is attached here too; a blueprint SCP has one target, so it "
                                       f"is written at {self.targets[self.placed[policy.id]]} only: attach it here "
                                       "by hand or copy it under another name"))
                continue
            match = self.catalog_match(policy)
            if match and (self.use_catalog or policy.kind == "RESOURCE_CONTROL_POLICY"):
                guardrails.append(Commented(match, (f"{label}: equals catalog guardrail {match} (guardrails packs "
                                                    "it into its own policy, which replaces this one)",)))
                self.warn(where, f"{label} equals catalog guardrail {match}: written as the guardrail, which "
                          "guardrails creates as a packed policy of its own (the live policy is replaced, not "
                          "imported)")
                if self.catalog[match][2]:  # it denies break-glass today; the lockout proof needs it declared
                    self.intended[match] = (f"Imported: the live {label} denies the break-glass role this way "
                                            "today. Review before the first apply.")
                continue
            if policy.kind == "RESOURCE_CONTROL_POLICY":
                notes.append(self.warn(where, f"{label} is not a catalog guardrail and the blueprint has no explicit "
                                       "RCPs: not imported, keep managing it outside guardrails"))
                continue
            if not _POLICY_NAME.match(policy.name) or policy.name.startswith("guardrails-"):
                notes.append(self.warn(where, f"{label}: the name is not a blueprint SCP name (letters, digits, "
                                       "+=,.@_-, not guardrails-…): not imported"))
                continue
            statements, problem = _statements(policy.document, camel(policy.name))
            if problem:
                notes.append(self.warn(where, f"{label}: {problem}: not imported"))
                continue
            entry = Map().add("name", policy.name).add("id", policy.id, "the existing policy: imported, not created")
            entry.add("description", policy.description)
            denies = sorted(str(s.items[0][1]) for s in statements if dict((k, v) for k, v, _ in s.items)["effect"]
                            == "Deny")
            comments = [f"imported unchanged from {label}"]
            if match:
                comments.append(f"equals catalog guardrail {match}: `guardrails: [{match}]` here would replace it "
                                "with guardrails' packed policy")
            if denies:
                entry.add("intended_denials", denies,
                          "review: these Deny statements reach the break-glass role today; the lockout proof accepts "
                          "them because they are listed here. Remove a Sid (or exempt break-glass) to let it through.")
            entry.add("statements", statements)
            scps.append(Commented(entry, tuple(comments)))
        for note in notes:
            node.add(f"# {note}", None)  # placeholder, turned into a comment by _comments_only
        if guardrails:
            node.add("guardrails", guardrails)
        if scps:
            node.add("scps", scps)

    # -- the organization ---------------------------------------------------------------------------------

    def organization(self) -> Map:
        org = self.org
        management = next((a for a in org.accounts if a.id == org.management_account_id), None)
        mgmt_name = self.names.get(org.management_account_id, "management")
        out = Map().add("name", self.name)
        if org.partition != "aws":
            out.add("partition", org.partition)
        out.add("id", org.id).add("root_id", org.root_id)
        out.add("existing", True)
        out.add("management_account", Map().add("name", mgmt_name).add("id", org.management_account_id)
                .add("email", management.email if management else "unknown@example.com"))
        out.add("home_region", org.region)
        out.add("allowed_regions", [org.region],
                "review: an organization has no list of allowed regions to read; this is the region imported from")
        self.warn("organization", "allowed_regions is the import's region only: list the regions you use")
        out.add("break_glass", Map().add("account", mgmt_name).add("users", [BREAK_GLASS_USER]),
                "review: guardrails always deploys a break-glass role in every account and its IAM users in one; "
                "none was imported. Choose the account and the users before the first apply.")
        self.warn("organization", "break_glass was not imported (guardrails creates it): choose its account and "
                  "users")
        self.policies_at(org.root_id, out)
        units = self.units(org.root_id)
        if units.items:
            out.add("units", units)
        if self.intended:
            out.add("intended_denials", dict(sorted(self.intended.items())),
                    "review: these recognised catalog guardrails deny the break-glass role, as the live policies "
                    "do; the lockout proof accepts it because they are listed here")
        for account in org.accounts:
            if account.parent_id == org.root_id and account.id != org.management_account_id:
                note = self.warn(f"account {self.names[account.id]}",
                                 f"{account.id} ({account.email}) sits at the root; the blueprint places member "
                                 "accounts in OUs: not imported, move it to an OU first")
                out.add(f"# {note}", None)
        return out

    def units(self, parent: str) -> Map:
        out = Map()
        for unit in self.org.units:
            if unit.parent_id != parent:
                continue
            node = Map().add("id", unit.id)
            self.policies_at(unit.id, node)
            accounts = []
            for account in self.org.accounts:
                if account.parent_id != unit.id:
                    continue
                entry = Map().add("name", self.names[account.id]).add("id", account.id).add("email", account.email)
                entry.add("existing", True)
                self.policies_at(account.id, entry)
                comments = (f"live name: {account.name}",) if account.name != self.names[account.id] else ()
                if account.status != "ACTIVE":
                    comments += (self.warn(f"account {self.names[account.id]}", f"status {account.status}"),)
                accounts.append(Commented(entry, comments))
            if accounts:
                node.add("accounts", accounts)
            children = self.units(unit.id)
            if children.items:
                node.add("units", children)
            out.add(unit.name, node)
        return out

    # -- Identity Center and delegated administrators -----------------------------------------------------

    def identity_center(self) -> tuple[Map | None, dict[str, Map]]:
        sso = self.org.identity_center
        jobs: dict[str, Map] = {}
        if sso is None:
            return None, jobs
        sets = Map()
        for ps in sso.permission_sets:
            entry = Map()
            if ps.description:
                entry.add("description", ps.description)
            job = f"ps-{re.sub(r'[^a-z0-9]+', '-', ps.name.lower()).strip('-')}"
            if ps.inline is not None:
                statements, problem = _statements(ps.inline, camel(ps.name))
                if problem:
                    entry.add(f"# {self.warn(f'permission set {ps.name}', f'inline policy not imported: {problem}')}",
                              None)
                else:
                    jobs[job] = Map().add("description", f"The inline policy of permission set {ps.name}, imported "
                                          "unchanged").add("statements", statements)
                    entry.add("job_functions", [job])
            managed = [arn.split(":policy/", 1)[1] for arn in ps.managed if ":iam::aws:policy/" in arn]
            if managed:
                entry.add("managed_policies", managed)
            for ref in ps.customer_managed:
                note = self.warn(f"permission set {ps.name}", f"customer managed policy reference {ref} is not "
                                 "expressible (the blueprint references its own job functions' policies): not "
                                 "imported")
                entry.add(f"# {note}", None)
            if ps.boundary:
                note = self.warn(f"permission set {ps.name}", f"boundary {ps.boundary} not imported: give it as "
                                 "`boundary` if it is an AWS managed policy or a permission_boundaries entry")
                entry.add(f"# {note}", None)
            entry.add("session_duration", ps.session_duration)
            if ps.relay_state:
                entry.add("relay_state", ps.relay_state)
            if ps.tags:
                entry.add("tags", dict(ps.tags))
            sets.add(ps.name, entry)
        assignments = []
        grouped: dict[tuple[str, str, str | None], list[str]] = {}
        for a in sso.assignments:
            if a.principal_type != "GROUP":
                self.warn(f"permission set {a.permission_set}",
                          f"assignment to user {a.principal_name or a.principal_id} "
                          f"in {self.names.get(a.account_id, a.account_id)}: the blueprint assigns groups only, not "
                          "imported")
                continue
            grouped.setdefault((a.permission_set, a.principal_id, a.principal_name), []).append(a.account_id)
        for (ps_name, group_id, group_name), ids in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            assignments.append(Map().add("group", group_name or group_id).add("group_id", group_id)
                               .add("permission_set", ps_name)
                               .add("deploy_to", Map().add("accounts", sorted(self.names.get(i, i) for i in ids))))
        out = Map().add("instance_arn", sso.instance_arn).add("identity_store_id", sso.identity_store_id)
        sso_admin = [a for a, service in self.org.delegated_admins if service == "sso.amazonaws.com"]
        if sso_admin:
            out.add("delegated_admin", self.names.get(sso_admin[0], sso_admin[0]))
        out.add("permission_sets", sets)
        if assignments:
            out.add("assignments", assignments)
        return out, jobs

    def delegated_comments(self) -> list[str]:
        lines = []
        for account, service in self.org.delegated_admins:
            if service == "sso.amazonaws.com" and self.org.identity_center is not None:
                continue
            lines.append(self.warn(f"account {self.names.get(account, account)}",
                                   f"delegated administrator for {service}: the blueprint models delegated "
                                   "administrators only in its security and identity_center sections; not imported"))
        return lines

    # -- IAM of the chosen accounts -----------------------------------------------------------------------

    def identity(self, jobs: dict[str, Map]) -> Map:
        from guardrails.audit.iam_writer import identity_sections

        return identity_sections(self, jobs)


def write_blueprint(org: ImportedOrganization, *, catalog: Mapping[str, tuple[str, Any, bool]] | None = None,
                    use_catalog: bool = False, name: str | None = None) -> Written:
    """The blueprint files (name → text) and the warnings; ``catalog``: guardrail id → (kind, rendered document,
    denies break-glass) as the imported blueprint would compile it (the CLI renders them), to recognise catalog
    guardrails."""
    slug = name or re.sub(r"[^a-z0-9-]+", "-", org.id.lower()).strip("-")[:49]
    writer = _Writer(org, catalog or {}, use_catalog, slug)
    header = (f"Imported by `guardrails import` from organization {org.id} (read-only calls).",
              "Read every `review:` comment before the first apply; docs/importing.md says what is imported.")
    organization = writer.organization()
    delegated = writer.delegated_comments()
    files = {"organization.yaml": render(Map().add("organization", organization),
                                         header + tuple(delegated))}
    sso, jobs = writer.identity_center()
    identity = writer.identity(jobs)
    if identity.items:
        files["identity.yaml"] = render(identity,
                                        ("Imported IAM of the accounts given with --accounts.",))
    if sso is not None and org.identity_center is not None:
        text = render(Map().add("identity_center", sso),
                      ("Imported IAM Identity Center permission sets and assignments.",))
        ic = org.identity_center
        if not (_INSTANCE.match(ic.instance_arn) and _STORE.match(ic.identity_store_id)):
            why = writer.warn("identity_center", f"instance {ic.instance_arn} / identity store {ic.identity_store_id}"
                              " are not of AWS's form (an emulator?): the section is written commented out")
            text = f"# {why}\n" + "".join(f"# {line}\n" for line in text.splitlines())
        files["identity-center.yaml"] = text
    return Written(files, writer.warnings)

