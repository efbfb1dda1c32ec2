"""Lockout safety: proof, with the evaluator, that the guardrails cannot lock the organization out.

Run on every build (``guardrails.pipeline.compile_blueprint``) against the emitted policy tree. Five checks:

- **break-glass**: in every account, no Deny statement of the SCPs and RCPs on the account's path applies to the
  break-glass role for *any* request, except the denials the blueprint declares intended (the catalog's
  ``locks_break_glass``, an SCP's ``intended_denials``);
- **break-glass-entry**: the break-glass users can assume the break-glass role in every account;
- **deployment**: the deployment principals (``deployment_principals``, the deployment role, the password-policy
  function's role) can perform every action that deploying the emitted baseline needs
  (``guardrails/data/deployment_actions.yaml``), and the management deployer can assume the deployment role in
  every member account;
- **mfa-enrollment**: IAM users under MFA enforcement can enroll a device without MFA (identity policies, SCPs
  and RCPs considered);
- **quarantine** (when a quarantine SCP is given): attached to an account, it still lets break-glass and the
  bootstrap role in.

"Any request" is not enumerated (20,000 actions × contexts is slow and still incomplete). Each Deny statement
is asked instead whether it can apply to the principal: candidate actions come from its ``Action`` element
(expanded against the IAM action database, a few per pattern) or, for ``NotAction``, from a fixed set of
representative actions of different services outside it; the resource is the statement's own resource pattern
made concrete in the account; request contexts are built from the statement's own conditions — for each
condition key every value the policy names (wildcards filled in), a value outside them, and the key absent —
and every combination is evaluated by the real engine (:func:`guardrails.evaluation.engine.evaluate`). A
statement that decides one of those requests is a finding, with the request that proves it.

Keys that describe the principal (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalOrgID``,
``aws:PrincipalType``, ``aws:PrincipalTag/…``, ``aws:userid`` …) or the resource's account, and
``aws:SecureTransport`` (every AWS client signs over TLS), always come from the real request, never from the
adversary; so does the MFA state of the principal (the break-glass role is assumed with MFA, deployment roles
and the users that enroll have none). Only SCPs and RCPs can deny a role probe: its identity is taken to be
administrator access. Organization structure is cached per distinct policy path, so 1,000 accounts in a few
OUs cost about as much as a dozen.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from guardrails.diagnostics import Diagnostic, Location
from guardrails.evaluation.conditions import evaluate_clause
from guardrails.evaluation.engine import (
    Caller,
    Decision,
    Policy,
    PolicySet,
    Request,
    evaluate,
    statements_of,
)
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.matching import (
    action_matches,
    has_variables,
    resource_matches,
    substitute_variables,
)
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.iam.actions import iam_database

Check = Literal["break-glass", "break-glass-entry", "deployment", "mfa-enrollment", "quarantine"]
CHECK_ORDER: tuple[Check, ...] = ("break-glass", "break-glass-entry", "deployment", "mfa-enrollment", "quarantine")

# Keys whose value is a property of the principal or of the resource's account: taken from the real request.
PRINCIPAL_KEYS = frozenset({
    "aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths", "aws:principaltype",
    "aws:principalisawsservice", "aws:principalservicename", "aws:principalservicenameslist", "aws:userid",
    "aws:username", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcearn",
    "aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths",
    # Every AWS SDK, the CLI and the console sign over TLS: a TLS-only Deny never locks anyone out.
    "aws:securetransport",
})
PRINCIPAL_PREFIXES = ("aws:principaltag/",)
RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})
MFA_KEYS = frozenset({"aws:multifactorauthpresent", "aws:multifactorauthage"})
# AWS puts these in every request: the adversary may pick their value, not their absence.
ALWAYS_PRESENT = frozenset({"aws:requestedregion", "aws:currenttime", "aws:epochtime", "aws:securetransport",
                            "aws:viaawsservice", "aws:principalisawsservice"})

# Candidates for a statement with Action "*" or NotAction: common actions of many services, regional and global.
REPRESENTATIVE_ACTIONS = (
    "ec2:RunInstances", "ec2:DescribeInstances", "s3:GetObject", "s3:PutObject", "lambda:InvokeFunction",
    "cloudformation:CreateStack", "logs:PutLogEvents", "kms:Decrypt", "dynamodb:GetItem", "rds:DescribeDBInstances",
    "ssm:StartSession", "cloudtrail:StopLogging", "guardduty:GetFindings", "securityhub:GetFindings",
    "config:DescribeConfigRules", "sso:ListInstances", "sts:AssumeRole", "sts:GetCallerIdentity", "iam:CreateRole",
    "iam:PassRole", "iam:CreateUser", "organizations:DescribeOrganization", "account:GetAlternateContact",
    "support:CreateCase", "route53:ChangeResourceRecordSets", "cloudfront:CreateInvalidation", "ce:GetCostAndUsage",
    "health:DescribeEvents",
)
# Regions tried, in order, as "a value outside the policy's" for region keys.
OUTSIDE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1")
OUTSIDE_IPS = ("203.0.113.10", "198.51.100.10", "192.0.2.10", "2001:db8::10")
FAR_PAST, FAR_FUTURE = "1970-01-02T00:00:00Z", "2999-12-31T00:00:00Z"
OUTSIDE = "guardrails-outside-value"
ADVERSARY_ACCOUNT = "999999999999"

PER_PATTERN = 3  # actions sampled from each wildcard Action pattern
MAX_ACTIONS = 12  # candidate actions per statement
MAX_CONTEXTS = 256  # request contexts per statement and action (combinations of condition-key candidates)

# What a user without MFA must be able to do to enroll a device (the IAM User Guide's self-manage-MFA example,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html).
# sts:GetSessionToken, which turns the device into an MFA session, is not among them on purpose: it needs no
# permission and no policy can deny it ("You cannot use policies to control authentication operations",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html).
MFA_ENROLLMENT = (
    ("iam:CreateVirtualMFADevice", "arn:{partition}:iam::{account}:mfa/{user}"),
    ("iam:EnableMFADevice", "{user_arn}"),
    ("iam:ListMFADevices", "{user_arn}"),
    ("iam:GetUser", "{user_arn}"),
)
# How a user without MFA signs requests: long-term access keys (key absent) or a console session (false).
MFA_VARIANTS: tuple[dict[str, tuple[str, ...]], ...] = ({}, {"aws:MultiFactorAuthPresent": ("false",)})
BREAK_GLASS_MFA: dict[str, tuple[str, ...]] = {"aws:MultiFactorAuthPresent": ("true",),
                                               "aws:MultiFactorAuthAge": ("60",)}

# Only SCPs and RCPs may deny a role probe: its own permissions are taken to be everything.
ADMINISTRATOR = Policy("administrator access (assumed for the proof)", "identity",
                       {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                       "guardrails lockout proof")


# ----------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Quarantine:
    """An SCP attached to an account to isolate it; break-glass and the bootstrap role must still get in."""

    document: Mapping[str, Any]
    name: str = "quarantine"
    intended: tuple[str, ...] = ()  # Sids whose denial of break-glass is by design


@dataclass(frozen=True)
class LockoutFinding:
    """A statement (or a missing allow) that denies a principal something it must be able to do."""

    check: Check
    principal: str  # "role/BreakGlass", "role/stacksets-exec-*", "user/alice"
    accounts: tuple[str, ...]
    policy: str  # the policy whose statement decided ("" when nothing decided but a missing allow)
    kind: str  # "scp", "rcp", "identity", "boundary", "resource"
    level: str  # SCPs/RCPs: where the policy is attached ("root", "ou:Workloads", "account:app-dev")
    sid: str
    index: int  # the statement's position in the policy; -1 for an implicit deny
    actions: tuple[str, ...]  # the denied actions (the first is the one the request below shows)
    resource: str  # the request's resource (${account_id} for the account's own id)
    context: tuple[tuple[str, tuple[str, ...] | None], ...]  # request keys the proof chose (None: absent)
    decision: str  # the evaluator's one-line summary

    @property
    def statement(self) -> str:
        return self.sid or (f"statement {self.index + 1}" if self.index >= 0 else "")

    def describe_policy(self) -> str:
        if not self.policy:
            return self.decision
        where = f" ({self.level})" if self.level else ""
        return f"{self.kind.upper() if self.kind in ('scp', 'rcp') else self.kind + ' policy'} " \
               f"{self.policy}{where}, statement {self.statement}"

    def describe_context(self) -> str:
        parts = [f"{key}={','.join(values)}" if values is not None else f"{key} absent"
                 for key, values in self.context]
        return ", ".join(parts)


def prove_no_lockout(organization: Organization, *,
                     intended: Mapping[str, Iterable[str]] | None = None,
                     deployment_roles: Iterable[str] = (),
                     management_deployer: str | None = None,
                     bootstrap_role: str | None = None,
                     quarantine: Quarantine | None = None,
                     explicit_scps_need_declaration: bool = True) -> list[LockoutFinding]:
    """Every lockout the emitted policies allow, collapsed across accounts; ``[]`` is the proof.

    ``intended``: policy name → Sids whose denial of break-glass is by design (``"*"``: every statement), on top
    of the manifest's ``intended_denials`` and the catalog's ``locks_break_glass``. ``deployment_roles``: role
    name patterns besides the manifest's ``deployment_principals`` (the plan's deployment role).
    ``management_deployer``: the role that deploys the management account's stacks; it must be able to assume
    ``bootstrap_role`` (default: the manifest's ``deployment_role``, else ``OrganizationAccountAccessRole``) in
    every member account. ``explicit_scps_need_declaration=False`` leaves the blueprint's own SCPs (those with no
    catalog guardrail) out of the break-glass check — for blueprints written before ``intended_denials``.
    """
    prover = _Prover(organization, intended or {}, tuple(deployment_roles), management_deployer, bootstrap_role,
                     explicit_scps_need_declaration)
    prover.break_glass()
    prover.break_glass_entry()
    prover.deployment()
    prover.mfa_enrollment()
    if quarantine is not None:
        prover.quarantine(quarantine)
    return prover.findings()


def lockout_diagnostics(findings: Sequence[LockoutFinding], *, origins: Mapping[tuple[str, int], str] | None = None,
                        default: Location | None = None) -> list[Diagnostic]:
    """GR403 per finding. ``origins``: (policy name, statement index) → the statement's origin in the plan
    (``file:line:col`` for the blueprint's own statements, the catalog id for catalog ones)."""
    out: list[Diagnostic] = []
    for finding in findings:
        origin = (origins or {}).get((finding.policy, finding.index), "")
        location = Location.parse(origin) or default
        source = f" (catalog guardrail {origin})" if origin and Location.parse(origin) is None else ""
        out.append(Diagnostic.of("GR403", _message(finding) + source, location, _hint(finding)))
    return out


@cache
def deployment_actions() -> dict[str, Any]:
    """``guardrails/data/deployment_actions.yaml``."""
    return yaml.safe_load(resources.files("guardrails.data").joinpath("deployment_actions.yaml").read_text("utf-8"))


@cache
def catalog_intended_actions(guardrail_id: str) -> tuple[str, ...]:
    """Actions a catalog guardrail denies to everyone by design (``locks_break_glass: {intended: true}``), read
    from the raw catalog file (the loader does not carry the key)."""
    entry = resources.files("guardrails.data").joinpath("catalog", f"{guardrail_id}.yaml")
    if not entry.is_file():
        return ()
    raw = yaml.safe_load(entry.read_text("utf-8")) or {}
    marker = raw.get("locks_break_glass")
    if not (isinstance(marker, Mapping) and marker.get("intended") is True):
        return ()
    return tuple(a for s in raw.get("statements", []) for a in s.get("actions", []) if "$" not in a)


# ----------------------------------------------------------------------------- messages


def _accounts_text(accounts: Sequence[str]) -> str:
    if len(accounts) <= 6:
        return ", ".join(accounts)
    return f"{len(accounts)} accounts ({', '.join(accounts[:4])} …)"


def _message(f: LockoutFinding) -> str:
    action = f.actions[0]
    more = f" (and {len(f.actions) - 1} more: {', '.join(f.actions[1:6])}{' …' if len(f.actions) > 6 else ''})" \
        if len(f.actions) > 1 else ""
    request = f"{action} on {f.resource}" + (f" with {f.describe_context()}" if f.context else "")
    where = f"in {_accounts_text(f.accounts)}"
    if f.decision.startswith("cannot be evaluated"):
        what = f"{f.describe_policy()}: " if f.policy else ""
        return f"lockout: cannot prove that {f.principal} ({f.check}) is not denied {action} {where}: {what}" \
               f"{f.decision}"
    if f.check == "break-glass":
        lead = f"lockout: break-glass {f.principal} is denied {request} {where}"
    elif f.check == "quarantine":
        lead = f"lockout: the quarantine SCP denies {f.principal} {request} {where}"
    elif f.check == "break-glass-entry":
        lead = f"lockout: break-glass {f.principal} cannot assume the break-glass role {where} ({request})"
    elif f.check == "deployment":
        lead = f"lockout: deployment principal {f.principal} cannot {request}{more} {where}, which deploying the " \
               "baseline needs"
    else:
        lead = f"lockout: {f.principal} without MFA cannot {request}{more} {where}, which enrolling an MFA device " \
               "needs"
    return f"{lead}: {f.describe_policy()}"


def _hint(f: LockoutFinding) -> str:
    exempt = ("exempt the break-glass role and the deployment principals through aws:PrincipalArn (catalog "
              "guardrails: `exempt_privileged`; the blueprint's own statements: an ArnNotLike aws:PrincipalArn "
              "condition naming them)")
    if f.check in ("break-glass", "quarantine"):
        return f"{exempt}, or declare the denial intended (`intended_denials: [{f.statement}]` on the SCP)"
    if f.check == "mfa-enrollment":
        return ("users under MFA enforcement must be able to call iam:CreateVirtualMFADevice, iam:EnableMFADevice, "
                "iam:ListMFADevices and iam:GetUser on their own user without MFA: allow them, and leave them out of "
                "any Deny that applies without MFA (NotAction)")
    return f"{exempt}; intended denials do not apply here: the deployment needs the action"


# ----------------------------------------------------------------------------- the prover


@dataclass(frozen=True)
class _Role:
    """A role session that probes the policies: concrete name (wildcards filled in) and how it is shown."""

    label: str  # "role/stacksets-exec-*"
    name: str
    path: str = "/"
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # request keys it sends (its MFA state)
    # Keys (lowercased) the adversary may not choose, besides the principal's: role sessions without MFA carry
    # aws:MultiFactorAuthPresent=false and no age; break-glass carries true, its age grows during the session.
    pinned: frozenset[str] = MFA_KEYS

    def arn(self, partition: str, account_id: str) -> str:
        return f"arn:{partition}:iam::{account_id}:role{self.path}{self.name}"


@dataclass(frozen=True)
class _Deny:
    policy: Policy
    index: int
    statement: Mapping[str, Any]


@dataclass
class _Path:
    """What applies to the principals of one account (the representative of its group)."""

    account: Account
    scp_levels: tuple[tuple[str, tuple[Policy, ...]], ...]
    rcp_levels: tuple[tuple[str, tuple[Policy, ...]], ...]


class _Prover:
    def __init__(self, organization: Organization, intended: Mapping[str, Iterable[str]],
                 deployment_roles: tuple[str, ...], management_deployer: str | None, bootstrap_role: str | None,
                 explicit_need_declaration: bool) -> None:
        self.org = organization
        self.manifest = organization.manifest
        self.partition = organization.partition
        self.db = iam_database()
        info = self.manifest["organization"]
        self.intended: dict[str, set[str]] = {}
        for entry in (*self.manifest["service_control_policies"], *self.manifest.get("resource_control_policies", [])):
            # A catalog policy's intended denials are read from the catalog, action by action (below): when the
            # packer merges statements, an intended Sid can carry other guardrails' actions too.
            if entry.get("intended_denials") and not entry.get("guardrails"):
                self.intended.setdefault(entry["name"], set()).update(entry["intended_denials"])
        for name, sids in intended.items():
            self.intended.setdefault(name, set()).update(sids)
        self.catalog_actions: dict[str, tuple[str, ...]] = {}
        self.explicit: set[str] = set()
        for entry in (*self.manifest["service_control_policies"], *self.manifest.get("resource_control_policies", [])):
            ids = entry.get("guardrails") or []
            if not ids:
                self.explicit.add(entry["name"])
            self.catalog_actions[entry["name"]] = tuple(a for g in ids for a in catalog_intended_actions(g))
        self.explicit_need_declaration = explicit_need_declaration
        self.break_glass_role = str(info["break_glass"]["role"])
        self.break_glass_account = str(info["break_glass"]["account"])
        self.bootstrap_role = bootstrap_role or info.get("deployment_role") or "OrganizationAccountAccessRole"
        self.management_deployer = management_deployer or info.get("management_deployment_role")
        patterns = [*info.get("deployment_principals", []), *([info["deployment_role"]] if info.get("deployment_role")
                                                               else []), *deployment_roles]
        self.deployment_patterns = tuple(dict.fromkeys(p for p in patterns if p and p != self.break_glass_role))
        self._raw: dict[tuple, tuple[LockoutFinding, list[str], list[str]]] = {}
        self._order: list[tuple] = []
        self._attachments = self._attachments_by_target()
        self._dependent = {name: self._account_dependent(entry) for name, entry in self._policy_entries().items()}
        self._paths: dict[tuple, _Path] = {}
        # (statement id, fixed keys, their values) → (statement kept alive, rejected?)
        self._rejections: dict[tuple, tuple[Mapping[str, Any], bool]] = {}

    # -- structure ----------------------------------------------------------------------------

    def _policy_entries(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in (*self.manifest["service_control_policies"],
                                       *self.manifest.get("resource_control_policies", []))}

    def _attachments_by_target(self) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {"scp": {}, "rcp": {}}
        for kind, key in (("scp", "service_control_policies"), ("rcp", "resource_control_policies")):
            for entry in self.manifest.get(key, []):
                out[kind].setdefault(entry["target"], []).append(entry["name"])
        return out

    def _account_dependent(self, entry: Mapping[str, Any]) -> bool:
        """Does the policy name an account id of the organization or an account-valued key? Then its effect on a
        principal can differ between accounts of one path, which are then proven one by one."""
        text = self.org.files.get(entry["file"], "")
        ids = {a.id for a in self.org.accounts.values()}
        lowered = text.lower()
        return bool(set(re.findall(r"\d{12}", text)) & ids) or any(
            k in lowered for k in ("aws:principalaccount", "aws:resourceaccount", "aws:sourceaccount", "aws:userid",
                                   "aws:username", "${account_id}"))

    def _path_key(self, account: Account) -> tuple:
        names = {kind: tuple(n for t in self.org.path_of(account) for n in self._attachments[kind].get(t, []))
                 for kind in ("scp", "rcp")}
        dependent = any(self._dependent.get(n) for kind in names for n in names[kind])
        return (account.management, names["scp"], names["rcp"], account.name if dependent else "")

    def _groups(self, *, members_only: bool = False, by_class: bool = False) -> list[tuple[_Path, list[Account]]]:
        """Accounts grouped by what applies to them, in name order; each group proven once, on its first account."""
        groups: dict[tuple, list[Account]] = {}
        for account in sorted(self.org.accounts.values(), key=lambda a: a.name):
            if members_only and account.management:
                continue
            key = self._path_key(account) + ((account.class_key,) if by_class else ())
            groups.setdefault(key, []).append(account)
        out = []
        for key, accounts in groups.items():
            path_key = key[:4]
            if path_key not in self._paths:
                rep = accounts[0]
                self._paths[path_key] = _Path(rep, self.org.scp_levels(rep), self.org.rcp_levels(rep))
            path = self._paths[path_key]
            if path.account.name != accounts[0].name:  # the class split the group: prove on its own first account
                path = _Path(accounts[0], path.scp_levels, path.rcp_levels)
            out.append((path, accounts))
        return out

    def _policy_set(self, path: _Path, *, levels: tuple | None = None) -> PolicySet:
        exempt = "SCPs do not restrict principals of the management account" if path.account.management else ""
        return PolicySet(scp_levels=levels if levels is not None else path.scp_levels,
                         rcp_levels=() if path.account.management else path.rcp_levels,
                         identity=(ADMINISTRATOR,), scp_exempt_reason=exempt)

    # -- requests -----------------------------------------------------------------------------

    def _role_request(self, role: _Role, account: Account, action: str, resource: str,
                      chosen: Mapping[str, tuple[str, ...] | None]) -> Request:
        arn = role.arn(self.partition, account.id)
        caller = Caller("role", arn, account.id, f"arn:{self.partition}:sts::{account.id}:assumed-role/{role.name}/"
                        "guardrails")
        resource_account = _arn_account(resource) or account.id
        given = {k: v for k, v in {**role.context, **chosen}.items() if v is not None}
        context, origin = self.org.request_context(caller, PrincipalSpec("role", role.name), account, action, resource,
                                            resource_account, given)
        context = dict(context)
        for key, value in chosen.items():
            if value is None:
                context.pop(key.lower(), None)
        return Request(caller, action, resource, resource_account, context, origin)

    def _base_context(self, role: _Role, account: Account) -> Mapping[str, tuple[str, ...]]:
        return self._role_request(role, account, "sts:GetCallerIdentity", "*", {}).context

    # -- candidate requests -------------------------------------------------------------------

    def _actions(self, statement: Mapping[str, Any], excluded: Sequence[str]) -> list[str]:
        out: list[str] = []
        if "Action" in statement:
            for pattern in _as_tuple(statement["Action"]):
                if pattern == "*":
                    out += REPRESENTATIVE_ACTIONS
                elif "*" not in pattern and "?" not in pattern:
                    out.append(pattern)
                else:
                    names = [a.full_name for a in self.db.expand(pattern)]
                    out += _sample(names, PER_PATTERN) or [pattern.replace("*", "Guardrails").replace("?", "X")]
        else:
            nots = _as_tuple(statement.get("NotAction"))
            out = [a for a in REPRESENTATIVE_ACTIONS if not any(action_matches(n, a) for n in nots)]
            if not out:
                for prefix in self.db.services():
                    found = next((f"{prefix}:{self.db.service(prefix).actions[k].name}"  # type: ignore[union-attr]
                                  for k in sorted(self.db.service(prefix).actions)  # type: ignore[union-attr]
                                  if not any(action_matches(n, f"{prefix}:{k}") for n in nots)), None)
                    if found:
                        out.append(found)
                    if len(out) >= PER_PATTERN:
                        break
        kept = [a for a in dict.fromkeys(out) if not any(action_matches(e, a) for e in excluded)]
        return kept[:MAX_ACTIONS]

    def _resources(self, statement: Mapping[str, Any], action: str, account: Account, region: str,
                   base: Mapping[str, tuple[str, ...]]) -> list[str]:
        if "Resource" in statement:
            patterns = _as_tuple(statement["Resource"])
            if "*" in patterns:
                return ["*"]
            out = [self._concrete_arn(p, account, region, base) for p in patterns]
            return list(dict.fromkeys(r for r in out if r))
        if "NotResource" in statement:
            excluded = _as_tuple(statement["NotResource"])
            candidates = ["*", *self._database_arns(action, account, region)]
            return [c for c in candidates if not any(resource_matches(p, c, base) for p in excluded)][:2]
        return ["*"]

    def _concrete_arn(self, pattern: str, account: Account, region: str,
                      base: Mapping[str, tuple[str, ...]]) -> str | None:
        """A resource the pattern names, in the account: wildcards in the region and account parts become the
        region and the account, any other wildcard ``x``."""
        text = substitute_variables(pattern, base) if has_variables(pattern) else pattern
        if text is None:
            return None
        parts = text.split(":", 5)
        if len(parts) == 6 and parts[0] == "arn":
            wild = re.compile(r"[*?]")
            parts[1] = self.partition if wild.search(parts[1]) else parts[1]
            parts[2] = wild.sub("x", parts[2])
            parts[3] = region if wild.search(parts[3]) else parts[3]
            parts[4] = account.id if wild.search(parts[4]) else parts[4]
            parts[5] = wild.sub("x", parts[5])
            return ":".join(parts)
        return re.sub(r"[*?]", "x", text)

    def _database_arns(self, action: str, account: Account, region: str,
                       objects: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Resources of the action's resource type: the class's objects of that type when given, else one ARN
        in the database's format with ``guardrails`` for every name."""
        info = self.db.action(action)
        if info is None or not info.resource_types:
            return ["*"]
        service = self.db.service(info.service)
        assert service is not None
        kinds = list(dict.fromkeys((*info.required_resource_types, *info.resource_types)))
        if objects is not None:
            for kind in kinds:
                if kind in objects:
                    rtype = service.resource_types.get(kind.lower())
                    if rtype is None:
                        continue
                    return [_fill(rtype.arn, self.partition, region, account.id, name) for name in objects[kind]]
            return []  # the class has nothing of that type: the action is not needed there
        rtype = service.resource_types.get(kinds[0].lower())
        return [_fill(rtype.arn, self.partition, region, account.id, "guardrails")] if rtype else ["*"]

    def _contexts(self, statement: Mapping[str, Any], fixed: frozenset[str], base: Mapping[str, tuple[str, ...]],
                  account: Account) -> Iterator[dict[str, tuple[str, ...] | None]]:
        """Request contexts built from the statement's own conditions: for each key the adversary may set,
        the policy's values made concrete, a value outside them, and (unless AWS always sends it) absence."""
        per_key: dict[str, list[tuple[str, ...] | None]] = {}
        written: dict[str, str] = {}
        for operator, block in (statement.get("Condition") or {}).items():
            for key, values in block.items():
                lowered = key.lower()
                if lowered in fixed or lowered.startswith(PRINCIPAL_PREFIXES):
                    continue
                written.setdefault(lowered, key)
                candidates = per_key.setdefault(lowered, [])
                for candidate in self._candidates(operator, key, values, base, account):
                    if candidate not in candidates:
                        candidates.append(candidate)
        for key, candidates in per_key.items():
            if key not in ALWAYS_PRESENT:
                candidates.append(None)
        keys = sorted(per_key)
        for combination in itertools.islice(itertools.product(*(per_key[k] for k in keys)), MAX_CONTEXTS):
            yield {written[k]: v for k, v in zip(keys, combination, strict=True)}

    def _candidates(self, operator: str, key: str, values: object, base: Mapping[str, tuple[str, ...]],
                    account: Account) -> list[tuple[str, ...]]:
        raw = [str(v).lower() if isinstance(v, bool) else str(v)
               for v in (values if isinstance(values, list | tuple) else [values])]
        resolved = [r for r in (substitute_variables(v, base) if has_variables(v) else v for v in raw) if r is not None]
        qualifier = operator.startswith(("ForAnyValue:", "ForAllValues:"))
        base_op = operator.split(":", 1)[-1].removesuffix("IfExists")
        family = re.match(r"(Not)?(String|Numeric|Date|Bool|Binary|IpAddress|Arn|Null)", base_op.replace("NotIp", "Ip"))
        kind = family.group(2) if family else "String"
        inside: list[str] = []
        outside: list[str] = []
        if kind == "Null":
            return [(OUTSIDE,)]
        if kind == "Bool":
            return [("true",), ("false",)]
        if kind == "Numeric":
            for value in resolved:
                try:
                    number = Decimal(value)
                except InvalidOperation:
                    continue
                inside.append(value)
                outside += [str(number - 1), str(number + 1)]
        elif kind == "Date":
            inside = list(resolved)
            outside = [FAR_PAST, FAR_FUTURE]
        elif kind == "Binary":
            inside = list(resolved)
            outside = ["Z3VhcmRyYWlscy1vdXRzaWRl"]
        elif kind == "IpAddress":
            inside = [v.split("/", 1)[0] for v in resolved]
            outside = [ip for ip in OUTSIDE_IPS if not _clause(operator, "IpAddress", key, resolved, ip)][:1]
        elif kind == "Arn" or all(v.startswith("arn:") for v in resolved) and resolved:
            region = self.org.home_region
            inside = [a for a in (self._concrete_arn(v, account, region, base) for v in resolved) if a]
            probe = f"arn:{self.partition}:iam::{ADVERSARY_ACCOUNT}:role/{OUTSIDE}"
            outside = [probe] if not _clause(operator, "ArnLike", key, resolved, probe) else []
        else:
            inside = [re.sub(r"[*?]", "x", v) for v in resolved]
            like = "StringEqualsIgnoreCase" if "IgnoreCase" in base_op else "StringLike"
            pool = OUTSIDE_REGIONS if key.lower().endswith("region") else (OUTSIDE,)
            outside = [v for v in pool if not _clause(operator, like, key, resolved, v)][:1]
        result = [(v,) for v in dict.fromkeys(inside + outside)]
        if qualifier and inside and outside:
            result.append((inside[0], outside[0]))
        return result

    def _rejected_by_fixed_keys(self, statement: Mapping[str, Any], fixed: frozenset[str],
                                base: Mapping[str, tuple[str, ...]]) -> bool:
        """A clause on keys that come from the real principal is false: the statement never applies to it."""
        conditions = statement.get("Condition") or {}
        keys = sorted({k.lower() for block in conditions.values() for k in block
                       if k.lower() in fixed or k.lower().startswith(PRINCIPAL_PREFIXES)})
        if not keys:
            return False
        memo = (id(statement), fixed, tuple((k, base.get(k)) for k in keys))
        if memo not in self._rejections:
            self._rejections[memo] = (statement, self._rejects(conditions, fixed, base))
        return self._rejections[memo][1]

    def _rejects(self, conditions: Mapping[str, Any], fixed: frozenset[str],
                 base: Mapping[str, tuple[str, ...]]) -> bool:
        for operator, block in conditions.items():
            for key, values in block.items():
                lowered = key.lower()
                if not (lowered in fixed or lowered.startswith(PRINCIPAL_PREFIXES)):
                    continue
                listed = values if isinstance(values, list | tuple) else [values]
                if any(has_variables(str(v)) and not _resolvable(str(v), fixed) for v in listed):
                    continue
                if not evaluate_clause(operator, key, values, base).matched:
                    return True
        return False

    # -- the search -----------------------------------------------------------------------------

    def _denies(self, policies: PolicySet) -> list[_Deny]:
        """Deny statements of the policies the engine would consider for a role probe."""
        out: list[_Deny] = []
        levels = list(policies.rcp_levels)
        if not policies.scp_exempt_reason:
            levels += list(policies.scp_levels)
        for _, attached in levels:
            for policy in attached:
                for index, statement in enumerate(statements_of(policy)):
                    if statement["Effect"] == "Deny":
                        out.append(_Deny(policy, index, statement))
        for policy in (*policies.identity, policies.boundary, policies.resource, policies.session):
            if policy is None:
                continue
            for index, statement in enumerate(statements_of(policy)):
                if statement["Effect"] == "Deny":
                    out.append(_Deny(policy, index, statement))
        return out

    def _witness(self, deny: _Deny, role: _Role, path: _Path, policies: PolicySet, fixed: frozenset[str],
                 excluded: Sequence[str]) -> tuple[Request, Decision, dict] | None:
        """A request of ``role`` that this Deny statement decides, if there is one."""
        account = path.account
        base = self._base_context(role, account)
        adversary = fixed | role.pinned
        if self._rejected_by_fixed_keys(deny.statement, adversary, base):
            return None
        for action in self._actions(deny.statement, excluded):
            for chosen in self._contexts(deny.statement, adversary, base, account):
                region = next((v[0] for k, v in chosen.items() if k.lower() == "aws:requestedregion" and v), None)
                for resource in self._resources(deny.statement, action, account, region or self.org.home_region,
                                                base):
                    request = self._role_request(role, account, action, resource, chosen)
                    decision = evaluate(request, policies)
                    if _decided_by(decision, deny):
                        return request, decision, chosen
        return None

    def _record(self, check: Check, principal: str, accounts: Sequence[Account], path: _Path, request: Request,
                decision: Decision, chosen: Mapping[str, tuple[str, ...] | None], action: str,
                only: _Deny | None = None) -> None:
        """One finding per deciding statement (or per missing allow), merged with what other groups found."""
        ids = {a.id for a in accounts} | {path.account.id}
        matches = [m for m in decision.deciding if only is None or (m.policy == only.policy and m.index == only.index)]
        if decision.outcome == "explicit-deny" and matches:
            rows = [(m.policy.name, m.policy.kind, m.policy.level, m.sid, m.index) for m in matches]
        else:
            step = next((s for s in reversed(decision.steps) if s.outcome in ("no-allow", "deny", "unknown")), None)
            rows = [("", step.stage if step else "", "", "", -1)]
        context = tuple(sorted((k, None if v is None else tuple(_normalize(x, ids) for x in v))
                               for k, v in chosen.items()))
        for policy, kind, level, sid, index in rows:
            self._add(LockoutFinding(check, principal, (), policy, kind, level, sid, index, (action,),
                                     _normalize(request.resource, ids), context, decision.summary), accounts)

    def _unreadable(self, check: Check, principal: str, accounts: Sequence[Account], deny: _Deny | None,
                    action: str, error: EvaluationError) -> None:
        """A policy the evaluator cannot read (NotPrincipal, a malformed condition) cannot be proven safe."""
        policy = deny.policy if deny else None
        self._add(LockoutFinding(check, principal, (), policy.name if policy else "", policy.kind if policy else "",
                                 policy.level if policy else "", str(deny.statement.get("Sid", "")) if deny else "",
                                 deny.index if deny else -1, (action,), "*", (),
                                 f"cannot be evaluated: {error}"), accounts)

    def _add(self, finding: LockoutFinding, accounts: Sequence[Account]) -> None:
        key = (finding.check, finding.principal, finding.policy, finding.index,
               "" if finding.policy else finding.decision)
        if key not in self._raw:
            self._raw[key] = (finding, [], [])
            self._order.append(key)
        _, names, actions = self._raw[key]
        names.extend(a.name for a in accounts if a.name not in names)
        if finding.actions[0] not in actions:
            actions.append(finding.actions[0])

    def findings(self) -> list[LockoutFinding]:
        out = []
        for key in self._order:
            finding, names, actions = self._raw[key]
            out.append(replace(finding, accounts=tuple(sorted(names)), actions=(actions[0], *sorted(actions[1:]))))
        return sorted(out, key=lambda f: (CHECK_ORDER.index(f.check), f.policy, f.index, f.principal, f.accounts))

    # -- the checks -----------------------------------------------------------------------------

    def _break_glass_role(self, account: Account) -> _Role:
        path = "/"
        if account.class_key:
            for role in self.manifest["classes"][account.class_key]["roles"]:
                if role["name"] == self.break_glass_role:
                    path = role["path"]
        return _Role(f"role/{self.break_glass_role}", self.break_glass_role, path, BREAK_GLASS_MFA,
                     frozenset({"aws:multifactorauthpresent"}))

    def _intended_for(self, deny: _Deny, quarantine: bool = False) -> tuple[bool, tuple[str, ...]]:
        """(whole statement intended, actions intended) for the break-glass check."""
        sids = self.intended.get(deny.policy.name, set())
        if "*" in sids or (deny.statement.get("Sid") and deny.statement["Sid"] in sids):
            return True, ()
        if not quarantine and self.explicit_need_declaration is False and deny.policy.name in self.explicit:
            return True, ()
        return False, self.catalog_actions.get(deny.policy.name, ())

    def break_glass(self) -> None:
        for path, accounts in self._groups(members_only=True):
            role = self._break_glass_role(path.account)
            policies = self._policy_set(path)
            for deny in self._denies(policies):
                if deny.policy.kind not in ("scp", "rcp"):
                    continue
                whole, excluded = self._intended_for(deny)
                if whole:
                    continue
                try:
                    found = self._witness(deny, role, path, policies, PRINCIPAL_KEYS, excluded)
                except EvaluationError as exc:
                    self._unreadable("break-glass", role.label, accounts, deny, "*", exc)
                    continue
                if found:
                    request, decision, chosen = found
                    self._record("break-glass", role.label, accounts, path, request, decision, chosen, request.action,
                                 deny)

    def quarantine(self, quarantine: Quarantine) -> None:
        policy = Policy(quarantine.name, "scp", quarantine.document, "quarantine SCP (given to the proof)")
        for path, accounts in self._groups(members_only=True):
            level, attached = path.scp_levels[-1]
            levels = (*path.scp_levels[:-1], (level, (*attached, replace(policy, level=level))))
            policies = self._policy_set(path, levels=levels)
            probes = [self._break_glass_role(path.account), _Role(f"role/{self.bootstrap_role}",
                                                                  _concrete_name(self.bootstrap_role),
                                                                  _path_of(self.bootstrap_role))]
            for index, statement in enumerate(statements_of(policy)):
                if statement["Effect"] != "Deny" or statement.get("Sid") in quarantine.intended:
                    continue
                deny = _Deny(replace(policy, level=level), index, statement)
                for role in probes:
                    try:
                        found = self._witness(deny, role, path, policies, PRINCIPAL_KEYS, ())
                    except EvaluationError as exc:
                        self._unreadable("quarantine", role.label, accounts, deny, "*", exc)
                        continue
                    if found:
                        request, decision, chosen = found
                        self._record("quarantine", role.label, accounts, path, request, decision, chosen,
                                     request.action, deny)

    def _needed(self, account: Account) -> list[tuple[str, str]]:
        """(action, resource) pairs that deploying the account's baseline needs."""
        data = deployment_actions()
        objects, present = self._objects(account)
        region = self.org.home_region
        pairs: list[tuple[str, str]] = []
        scope = "management" if account.management else "member"
        for spec in data["types"].values():
            if spec["scope"] != scope or not present.get(spec["when"], False):
                continue
            for action in (*spec["actions"], *(spec.get("terraform_extra") or {})):
                for resource in self._database_arns(action, account, region, objects):
                    pairs.append((action, resource))
        return list(dict.fromkeys(pairs))

    def _objects(self, account: Account) -> tuple[dict[str, list[str]], dict[str, bool]]:
        """The class's objects by IAM resource type (names as the ARN formats want them), and which kinds exist."""
        data = deployment_actions()
        function = data["password_policy_function"]
        cls = self.manifest["classes"][account.class_key] if account.class_key else \
            {"roles": [], "groups": [], "users": [], "managed_policies": {}}
        roles = [r["path"].lstrip("/") + r["name"] for r in cls["roles"]]
        roles.append(function["role_path"].lstrip("/") + function["role_name"])
        oidc: list[str] = []
        saml: list[str] = []
        profiles: list[str] = []
        for role in cls["roles"]:
            trust = json.loads(self.org.files.get(role["trust"], '{"Statement": []}'))
            for statement in statements_of(Policy(role["name"], "resource", trust)):
                principal = statement.get("Principal")
                if not isinstance(principal, Mapping):
                    continue
                for value in _as_tuple(principal.get("Federated")):
                    if ":oidc-provider/" in value:
                        oidc.append(value.split(":oidc-provider/", 1)[1])
                    elif ":saml-provider/" in value:
                        saml.append(value.split(":saml-provider/", 1)[1])
                if "ec2.amazonaws.com" in _as_tuple(principal.get("Service")):
                    profiles.append(role["path"].lstrip("/") + role["name"])
        stack = data["stack_instance_name"].replace("{class}", account.class_key or "management")
        objects = {
            "role": roles,
            "policy": [arn.split(":policy/", 1)[1] for arn in cls["managed_policies"]],
            "group": [g["path"].lstrip("/") + g["name"] for g in cls["groups"]],
            "user": [u["path"].lstrip("/") + u["name"] for u in cls["users"]],
            "instance-profile": sorted(set(profiles)),
            "oidc-provider": sorted(set(oidc)),
            "saml-provider": sorted(set(saml)),
            "function": [function["function_name"]],
            "log-group": [function["log_group_name"]],
            "log-stream": [f"{function['log_group_name']}:log-stream:guardrails"],
            "stack": [f"{stack}/00000000-0000-4000-8000-000000000000"],
        }
        objects = {k: v for k, v in objects.items() if v}
        present = {"always": True, "roles": bool(cls["roles"]), "managed_policies": bool(cls["managed_policies"]),
                   "groups": bool(cls["groups"]), "users": bool(cls["users"]),
                   "instance_profiles": bool(profiles), "oidc_providers": bool(oidc), "saml_providers": bool(saml)}
        return objects, present

    def _check_requests(self, check: Check, principal: str, accounts: Sequence[Account], path: _Path,
                        pairs: Sequence[tuple[str, str]],
                        make: Callable[[str, str, Mapping[str, tuple[str, ...] | None]], tuple[Request, PolicySet]],
                        fixed: frozenset[str], *, denies: Sequence[_Deny] | None = None) -> None:
        """Each (action, resource) must be allowed under the default context and under every context built from
        the conditions of the Deny statements that could apply to it.

        ``denies``: for role probes, whose policies are the same for every request (SCPs, RCPs and an allow-all
        identity), the Deny statements among them; a request that none of them fits is allowed without asking
        the engine. Without it every request is evaluated (identity policies decide too)."""
        cache: dict[int, tuple[PolicySet, list[_Deny]]] = {}
        by_action: dict[str, list[_Deny]] = {}
        if denies is not None and pairs:
            # Statements whose conditions on the principal's own keys exclude it (the usual aws:PrincipalArn
            # exemption) can never apply to any of its requests: drop them once, not per request.
            first, _ = make(*pairs[0], {})
            stable = frozenset(fixed - RESOURCE_KEYS - {"aws:requestedregion"})
            denies = [d for d in denies if not self._rejected_by_fixed_keys(d.statement, stable, first.context)]
        for action, resource in pairs:
            try:
                if denies is not None:
                    if action not in by_action:
                        by_action[action] = [d for d in denies if _fits_action(d.statement, action)]
                    if not by_action[action]:
                        continue
                request, policies = make(action, resource, {})
                if id(policies) not in cache:
                    cache[id(policies)] = (policies, self._denies(policies))  # kept alive: ids stay unique
                candidates = by_action[action] if denies is not None else cache[id(policies)][1]
                applicable = [d for d in candidates if _fits(d, request)
                              and not self._rejected_by_fixed_keys(d.statement, fixed, request.context)]
                if denies is None or applicable:
                    decision = evaluate(request, policies)
                    if decision.outcome not in ("allow", "unknown"):
                        self._record(check, principal, accounts, path, request, decision, {}, action)
                        continue
                for deny in applicable:
                    for chosen in self._contexts(deny.statement, fixed, request.context, path.account):
                        if not chosen:
                            continue
                        probe, probe_policies = make(action, resource, chosen)
                        decision = evaluate(probe, probe_policies)
                        if decision.outcome not in ("allow", "unknown"):
                            self._record(check, principal, accounts, path, probe, decision, chosen, action)
                            break
            except EvaluationError as exc:
                self._unreadable(check, principal, accounts, None, action, exc)

    def deployment(self) -> None:
        data = deployment_actions()
        function = data["password_policy_function"]
        fixed = PRINCIPAL_KEYS | MFA_KEYS | {"aws:requestedregion"}
        roles = [_Role(f"role/{p}", _concrete_name(p), _path_of(p)) for p in self.deployment_patterns]
        function_role = _Role(f"role{function['role_path']}{function['role_name']}", function["role_name"],
                              function["role_path"])
        for path, accounts in self._groups(by_class=True):
            account = path.account
            policies = self._policy_set(path)
            denies = self._denies(policies)
            needed = self._needed(account)

            def make(action: str, resource: str, chosen: Mapping[str, tuple[str, ...] | None], role: _Role,
                     policies: PolicySet = policies, account: Account = account) -> tuple[Request, PolicySet]:
                return self._role_request(role, account, action, resource, chosen), policies

            for role in roles:
                self._check_requests("deployment", role.label, accounts, path, needed,
                                     lambda a, r, c, role=role: make(a, r, c, role), fixed, denies=denies)
            if not account.management:
                objects, _ = self._objects(account)
                pairs = [(a, r) for a in function["actions"]
                         for r in self._database_arns(a, account, self.org.home_region, objects)]
                self._check_requests("deployment", function_role.label, accounts, path, pairs,
                                     lambda a, r, c: make(a, r, c, function_role), fixed, denies=denies)
        self._bootstrap(fixed)

    def _bootstrap(self, fixed: frozenset[str]) -> None:
        """The management deployer assumes the bootstrap role in every member account: RCPs of the member apply."""
        if not self.management_deployer:
            return
        management = next((a for a in self.org.accounts.values() if a.management), None)
        if management is None:
            return
        deployer = _Role(f"role/{self.management_deployer}", _concrete_name(self.management_deployer),
                         _path_of(self.management_deployer))
        target = _Role("", _concrete_name(self.bootstrap_role), _path_of(self.bootstrap_role))
        for path, accounts in self._groups(members_only=True):
            resource = target.arn(self.partition, path.account.id)
            # AWS Organizations creates the role trusting the management account; guardrails does not emit it.
            trust = Policy(f"trust policy of {self.bootstrap_role} (created by AWS Organizations)", "resource",
                           {"Version": "2012-10-17", "Statement": [{
                               "Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"AWS": f"arn:{self.partition}:iam::{management.id}:root"}}]})
            policies = PolicySet(rcp_levels=() if path.account.management else path.rcp_levels,
                                 identity=(ADMINISTRATOR,), resource=trust, resource_required=True,
                                 scp_exempt_reason="SCPs do not restrict principals of the management account")

            def make(action: str, res: str, chosen: Mapping[str, tuple[str, ...] | None],
                     policies: PolicySet = policies) -> tuple[Request, PolicySet]:
                return self._role_request(deployer, management, action, res, chosen), policies

            self._check_requests("deployment", deployer.label, accounts, path, [("sts:AssumeRole", resource)], make,
                                 fixed, denies=self._denies(policies))

    def mfa_enrollment(self) -> None:
        fixed = PRINCIPAL_KEYS | MFA_KEYS | {"aws:requestedregion"}
        for path, accounts in self._groups(by_class=True):
            account = path.account
            if account.class_key is None:
                continue
            for user in self.manifest["classes"][account.class_key]["users"]:
                spec = PrincipalSpec("user", user["name"])
                if not self._under_mfa_enforcement(account, spec):
                    continue
                user_arn = f"arn:{self.partition}:iam::{account.id}:user{user['path']}{user['name']}"
                pairs = [(action, template.format(partition=self.partition, account=account.id, user=user["name"],
                                                  user_arn=user_arn)) for action, template in MFA_ENROLLMENT]
                for variant in MFA_VARIANTS:
                    def make(action: str, resource: str, chosen: Mapping[str, tuple[str, ...] | None],
                             variant: Mapping[str, tuple[str, ...]] = variant, spec: PrincipalSpec = spec,
                             account: Account = account) -> tuple[Request, PolicySet]:
                        given = {**variant, **{k: v for k, v in chosen.items() if v is not None}}
                        return self.org.prepare(spec, account.name, action, resource, given)

                    self._check_requests("mfa-enrollment", f"user/{user['name']}", accounts, path, pairs, make,
                                         fixed)

    def _under_mfa_enforcement(self, account: Account, spec: PrincipalSpec) -> bool:
        """A Deny on aws:MultiFactorAuthPresent in the user's identity policies (the enforcement policy)."""
        request, policies = self.org.prepare(spec, account.name, "iam:GetUser", "*")
        _ = request
        for policy in policies.identity:
            for statement in statements_of(policy):
                if statement["Effect"] == "Deny" and any(
                        key.lower() == "aws:multifactorauthpresent"
                        for block in (statement.get("Condition") or {}).values() for key in block):
                    return True
        return False

    def break_glass_entry(self) -> None:
        """The break-glass users (tagged guardrails:purpose=break-glass) assume the role in every account."""
        bg_account = self.org.accounts.get(self.break_glass_account)
        if bg_account is None or bg_account.class_key is None:
            return
        users = [u["name"] for u in self.manifest["classes"][bg_account.class_key]["users"]
                 if u.get("tags", {}).get("guardrails:purpose") == "break-glass"]
        fixed = PRINCIPAL_KEYS | MFA_KEYS | {"aws:requestedregion"}
        for path, accounts in self._groups(by_class=True):
            role = self._break_glass_role(path.account)
            resource = role.arn(self.partition, path.account.id)
            roles = self.manifest["classes"][path.account.class_key]["roles"] if path.account.class_key else []
            if not any(r["name"] == self.break_glass_role for r in roles):
                continue
            for user in users:
                spec = PrincipalSpec("user", user)

                def make(action: str, res: str, chosen: Mapping[str, tuple[str, ...] | None],
                         spec: PrincipalSpec = spec) -> tuple[Request, PolicySet]:
                    given = {**BREAK_GLASS_MFA, **{k: v for k, v in chosen.items() if v is not None}}
                    return self.org.prepare(spec, bg_account.name, action, res, given)

                self._check_requests("break-glass-entry", f"user/{user}", accounts, path,
                                     [("sts:AssumeRole", resource)], make, fixed)


# ----------------------------------------------------------------------------- helpers


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[union-attr]


def _sample(names: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` names spread over the list (first, middle, last …), deterministic."""
    if len(names) <= count:
        return list(names)
    step = (len(names) - 1) / (count - 1)
    return list(dict.fromkeys(names[round(i * step)] for i in range(count)))


def _fill(arn_format: str, partition: str, region: str, account_id: str, name: str) -> str:
    """An ARN from the IAM database's format: ``${Partition}``, ``${Region}``, ``${Account}``, and ``name`` for the
    first name placeholder (``guardrails`` for any other)."""
    text = arn_format.replace("${Partition}", partition).replace("${Region}", region).replace("${Account}", account_id)
    first = True

    def value(_: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return name
        return "guardrails"

    return re.sub(r"\$\{[^}]+\}", value, text)


def _concrete_name(pattern: str) -> str:
    """A role name the pattern matches (``stacksets-exec-*`` → ``stacksets-exec-guardrails``), path stripped."""
    return re.sub(r"\?", "x", re.sub(r"\*", "guardrails", pattern.strip("/").rsplit("/", 1)[-1]))


def _path_of(pattern: str) -> str:
    parts = pattern.strip("/").split("/")
    return "/" + "".join(f"{p}/" for p in parts[:-1])


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else None


def _normalize(text: str, account_ids: set[str]) -> str:
    for account_id in account_ids:
        text = text.replace(account_id, "${account_id}")
    return text


def _clause(operator: str, positive: str, key: str, values: Sequence[str], candidate: str) -> bool:
    """Does ``candidate`` match one of the policy values under the positive form of the operator's family?"""
    try:
        return evaluate_clause(positive, key, list(values), {key.lower(): (candidate,)}).matched
    except EvaluationError:
        return False


def _resolvable(value: str, fixed: frozenset[str]) -> bool:
    """Every policy variable in the value names a key the real request fixes."""
    names = re.findall(r"\$\{([^},']+)", value)
    return all(n.strip().lower() in fixed or n.strip().lower().startswith(PRINCIPAL_PREFIXES) for n in names)


def _decided_by(decision: Decision, deny: _Deny) -> bool:
    return decision.outcome == "explicit-deny" and any(
        m.policy == deny.policy and m.index == deny.index for m in decision.deciding)


def _fits_action(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(action_matches(p, action) for p in _as_tuple(statement["Action"]))
    return not any(action_matches(p, action) for p in _as_tuple(statement.get("NotAction")))


def _fits(deny: _Deny, request: Request) -> bool:
    """Action and resource of the statement fit the request (its conditions aside)."""
    statement = deny.statement
    if not _fits_action(statement, request.action):
        return False
    if "Resource" in statement:
        return any(resource_matches(p, request.resource, request.context) or has_variables(p)
                   for p in _as_tuple(statement["Resource"]))
    if "NotResource" in statement:
        return not any(resource_matches(p, request.resource, request.context)
                       for p in _as_tuple(statement["NotResource"]))
    return True
