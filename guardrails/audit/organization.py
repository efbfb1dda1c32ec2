"""``guardrails audit --organization``: every blueprint account, audited through a role assumed from the management
(or delegated administrator) account, concurrently, into one report.

The live organization is read once with the caller's credentials (guardrails.audit.org_reader); each account is
then read with its role's credentials by the single-account reader, with the SCPs on its path filled in from the
management read, and compared by guardrails.audit.compare. An account that cannot be audited (AccessDenied on
sts:AssumeRole, a missing role) is an error of that account; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from guardrails.audit.compare import ExpectedAccount, Finding, audit_findings, expected_account
from guardrails.audit.org_reader import AWS_DEFAULT_POLICIES, LiveOrganization, LivePath, OrganizationReader
from guardrails.audit.reader import make_session, read_account
from guardrails.audit.report import AuditResult
from guardrails.diagnostics import ToolError

if TYPE_CHECKING:
    from guardrails.audit.functions import FunctionRole
    from guardrails.iam.manifest import AccountEntry
    from guardrails.pipeline import Compiled

DEFAULT_ROLE = "SecurityAuditor"  # the example's read-only audit role (identity.yaml), when the blueprint deploys it
DEFAULT_JOBS = 8
SESSION_NAME = "guardrails-audit"


@dataclass(frozen=True)
class AccountAudit:
    """One blueprint account: its audit, or why it could not be audited."""

    name: str
    account_id: str
    role_arn: str | None  # None: audited with the caller's own credentials (the caller's account)
    result: AuditResult | None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.result is None:
            return "error"
        return "drift" if self.result.failed else "ok"


@dataclass(frozen=True)
class OrganizationAudit:
    organization_id: str
    management_account_id: str
    caller_account_id: str
    endpoint: str
    as_of: str
    role: str
    findings: tuple[Finding, ...]  # the organization's own: accounts missing, unknown, renumbered
    accounts: tuple[AccountAudit, ...]  # sorted by name
    notes: tuple[str, ...]

    def every_finding(self) -> tuple[Finding, ...]:
        return (*self.findings, *(f for a in self.accounts if a.result for f in a.result.findings))

    @property
    def failed(self) -> bool:
        """Drift or a CIS failure anywhere (an account not audited is :attr:`incomplete`, not this)."""
        return any(f.severity == "error" for f in self.every_finding())

    @property
    def incomplete(self) -> bool:
        return any(a.result is None for a in self.accounts)

    def counts(self) -> dict[str, int]:
        every = self.every_finding()
        return {"accounts": len(self.accounts), "audited": sum(a.result is not None for a in self.accounts),
                "errors": sum(a.result is None for a in self.accounts),
                "drift": sum(f.code.startswith("drift/") for f in every),
                "cis_failures": sum(f.code.startswith("cis/") for f in every),
                "warnings": sum(f.severity == "warning" for f in every),
                "info": sum(f.severity == "info" for f in every)}

    @property
    def summary(self) -> str:
        c = self.counts()
        return (f"organization {self.organization_id}: {c['audited']}/{c['accounts']} account(s) audited, "
                f"{c['errors']} could not be, {c['drift']} drift finding(s), {c['cis_failures']} CIS failure(s)")


@dataclass(frozen=True)
class _Target:
    name: str
    live_id: str
    role_arn: str | None
    expected: ExpectedAccount
    path: LivePath | None
    path_error: str | None


def default_role(compiled: Compiled) -> str:
    """``SecurityAuditor`` when the blueprint deploys a role of that name (read-only, made for audits); otherwise
    the organization's deployment role, which can do more than read (the caller is warned)."""
    if any(r.name == DEFAULT_ROLE for c in compiled.organization.manifest.classes for r in c.roles):
        return DEFAULT_ROLE
    if compiled.plan.org.deployment_role:
        return compiled.plan.org.deployment_role
    raise ToolError("the blueprint deploys no SecurityAuditor role and names no organization.deployment_role: "
                    "give the role to assume in every account with --role NAME")


def role_arn(role: str, account: AccountEntry, compiled: Compiled, live_id: str) -> str:
    """The ARN to assume: ``arn:…`` as given (``${account_id}`` substituted), ``path/Name``, or a bare name whose path
    is the one the account's class deploys it under (``/`` otherwise)."""
    if role.startswith("arn:"):
        return role.replace("${account_id}", live_id)
    partition = compiled.plan.org.partition
    if "/" in role.strip("/"):
        path, name = role.strip("/").rsplit("/", 1)
        return f"arn:{partition}:iam::{live_id}:role/{path}/{name}"
    deployed = next((r for r in compiled.organization.class_entry(account).roles if r.name == role), None)
    return f"arn:{partition}:iam::{live_id}:role{deployed.path if deployed else '/'}{role}"


def match_accounts(compiled: Compiled, live: LiveOrganization) -> tuple[list[tuple[str, str]], list[Finding]]:
    """(blueprint name, live id) of each account to audit, and the organization's findings: blueprint accounts
    missing live, live accounts the blueprint does not know, ids that differ. The management account is the
    organization's (DescribeOrganization); a member is found by its id, else by its root email."""
    by_id = {a.id: a for a in live.accounts}
    by_email = {a.email.lower(): a for a in live.accounts if a.email}
    used: set[str] = set()
    pairs: list[tuple[str, str]] = []
    findings: list[Finding] = []
    for account in compiled.plan.accounts:
        subject = f"account/{account.name}"
        if account.management:
            found = by_id.get(live.management_account_id)
        else:
            found = by_id.get(account.id) or by_email.get(account.email.lower())
            if found is not None and found.id in used:
                found = None
        if found is None:
            findings.append(Finding("drift/account-missing", "error", subject,
                                    f"no account with id {account.id} or email {account.email} in organization "
                                    f"{live.id}"))
            continue
        used.add(found.id)
        if found.id != account.id:
            findings.append(Finding("org/account-id-differs", "warning", subject,
                                    f"the blueprint records id {account.id}; the live account is {found.id} "
                                    f"({'the management account' if account.management else found.email}): "
                                    f"audited as {found.id}"))
        if found.status != "ACTIVE":
            findings.append(Finding("info/account-not-active", "info", subject,
                                    f"account {found.id} is {found.status}: not audited"))
            continue
        pairs.append((account.name, found.id))
    for account in compiled.plan.pending_accounts:
        found = by_email.get(account.email.lower())
        if found is not None and found.id not in used:
            used.add(found.id)
            findings.append(Finding("org/account-pending", "warning", f"account/{account.name}",
                                    f"the account exists as {found.id} but the blueprint has no id for it yet: "
                                    f"`guardrails account set-id {account.name} {found.id}`"))
    for found in live.accounts:
        if found.id not in used and found.status == "ACTIVE":
            findings.append(Finding("drift/account-unknown", "error", f"account/{found.id}",
                                    f"{found.name} ({found.email}) is in the organization but not in the blueprint"))
    return pairs, findings


def path_findings(expected: ExpectedAccount, targets: Sequence[str], path: LivePath,
                  rcp_levels: Sequence[tuple[str, tuple[str, ...]]]) -> list[Finding]:
    """What the single-account comparison does not check: the OU names on the path and the RCPs at each level."""
    live = path.targets
    if len(live) != len(targets):
        return []  # compare.py reports drift/scp-path-changed
    findings = []
    if tuple(live[:-1]) != tuple(targets[:-1]):
        findings.append(Finding("drift/account-placement", "error", f"account/{expected.name}",
                                f"the account sits at {' → '.join(live[:-1])}; the blueprint places it at "
                                f"{' → '.join(targets[:-1])}"))
    if path.rcps is None:
        return findings
    for (target, wanted), have in zip(rcp_levels, path.rcps, strict=True):
        have_set = set(have) - AWS_DEFAULT_POLICIES
        for name in sorted(set(wanted) - have_set):
            findings.append(Finding("drift/rcp-missing", "error", target, f"RCP {name} is not attached"))
        for name in sorted(have_set - set(wanted)):
            findings.append(Finding("drift/rcp-extra", "error", target,
                                    f"RCP {name} is attached but not in the blueprint"))
    return findings


def audit_organization(compiled: Compiled, *, role: str, profile: str | None = None, endpoint_url: str | None = None,
                       jobs: int = DEFAULT_JOBS, as_of: date, unused_days: int = 90,
                       function_roles: Callable[[AccountEntry], Sequence[FunctionRole]] = lambda a: (),
                       started: Callable[[int], None] = lambda total: None,
                       done: Callable[[str], None] = lambda name: None) -> OrganizationAudit:
    """Read the organization, then audit every blueprint account in at most ``jobs`` threads; ``started`` gets
    the number of accounts to audit, ``done`` each account's name as it finishes (a progress bar)."""
    from botocore.config import Config

    organization = compiled.organization
    region = organization.home_region
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30,
                    max_pool_connections=max(10, jobs))
    reader = OrganizationReader(make_session(profile, region), endpoint_url, region, config)
    live = reader.organization()
    pairs, findings = match_accounts(compiled, live)
    rcps: dict[str, list[str]] = {}
    for rcp in organization.manifest.resource_control_policies:
        rcps.setdefault(rcp.target, []).append(rcp.name)
    targets: list[_Target] = []
    for name, live_id in pairs:
        account = organization.account(name)
        baseline = compiled.plan.class_of(name)
        expected = expected_account(organization, baseline.baseline.password_policy if baseline else None, name,
                                    live_id, function_roles(account))
        arn = None if live_id == live.caller_account_id else role_arn(role, account, compiled, live_id)
        try:
            path, path_error = reader.path(live_id), None
        except ToolError as exc:
            path, path_error = None, str(exc)
        targets.append(_Target(name, live_id, arn, expected, path, path_error))

    def one(target: _Target) -> AccountAudit:
        if target.path is None:
            return AccountAudit(target.name, target.live_id, target.role_arn, None, target.path_error)
        try:
            session = make_session(profile, region) if target.role_arn is None else _assumed(
                reader.assume(target.role_arn, SESSION_NAME), region)
            snapshot = read_account(session=session, region=region, endpoint_url=endpoint_url, read_scps=False)
        except ToolError as exc:
            return AccountAudit(target.name, target.live_id, target.role_arn, None, str(exc))
        if snapshot.account_id != target.live_id:
            return AccountAudit(target.name, target.live_id, target.role_arn, None,
                                f"the credentials of {target.role_arn} belong to account {snapshot.account_id}, "
                                f"not {target.live_id}")
        snapshot = replace(snapshot, scp_path=target.path.scps)
        levels = organization.path_of(organization.account(target.name))
        rcp_levels = [(t, tuple(sorted(rcps.get(t, [])))) for t in levels]
        found = audit_findings(target.expected, snapshot, as_of, unused_days)
        found += path_findings(target.expected, levels, target.path, rcp_levels)
        notes = snapshot.notes if target.role_arn else (*snapshot.notes, "audited with the caller's own credentials "
                                                        "(the caller's account): no role assumed")
        result = AuditResult(target.name, snapshot.account_id, snapshot.endpoint, as_of.isoformat(),
                             tuple(sorted(set(found), key=Finding.sort_key)), tuple(notes))
        return AccountAudit(target.name, target.live_id, target.role_arn, result)

    started(len(targets))
    audits: list[AccountAudit] = []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(targets) or 1)),
                            thread_name_prefix="guardrails-audit") as pool:
        futures = {pool.submit(one, t): t.name for t in targets}
        for future in as_completed(futures):
            audits.append(future.result())
            done(futures[future])
    return OrganizationAudit(live.id, live.management_account_id, live.caller_account_id, reader.endpoint,
                             as_of.isoformat(), role, tuple(sorted(findings, key=Finding.sort_key)),
                             tuple(sorted(audits, key=lambda a: a.name)), tuple(reader.notes))


def _assumed(credentials: dict[str, str], region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region, **credentials)
