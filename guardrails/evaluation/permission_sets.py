"""IAM Identity Center sessions as principals: ``permission-set/NAME`` in an account it is assigned to.

Identity Center provisions a permission set into each assigned account as a role,
``role/aws-reserved/sso.amazonaws.com/<region>/AWSReservedSSO_<set>_<suffix>`` (no region segment when the
instance is in us-east-1), and people reach the account as sessions of that role
(https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html). The role carries the
set's inline policy, its AWS managed policies, its customer managed policy references and its boundary — the
latter two looked up by name and path in the account, where the account's baseline class must have created them
(https://docs.aws.amazon.com/singlesignon/latest/userguide/permissionsetcustom.html). SCPs and RCPs apply as to
any role.

The suffix is AWS's choice and cannot be known offline: the evaluator uses the placeholder
``SSO_ROLE_SUFFIX_PLACEHOLDER`` (sixteen zeros), so a policy that matches ``AWSReservedSSO_<set>_*`` (the way AWS
recommends referring to these roles) matches, and one that names a real suffix does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from guardrails.evaluation.engine import Caller, Policy
from guardrails.evaluation.errors import EvaluationError
from guardrails.iam.arns import arn, sso_role_arn, sso_role_name
from guardrails.iam.manifest import PermissionSetEntry

if TYPE_CHECKING:
    from guardrails.evaluation.organization import Account, Organization

PRINCIPAL = "permission-set"
# The region whose Identity Center roles carry no region segment in their path (see the page linked above).
# A session name: AWS uses the signed-in user's name, which a test does not have.
SESSION_NAME = "guardrails"


def assigned(org: Organization, name: str, account: Account) -> PermissionSetEntry:
    """The permission set, which must be assigned in the account (to any group)."""
    sets = org.permission_sets
    if not sets:
        raise EvaluationError(f"there are no Identity Center permission sets in {org.manifest_name}: the blueprint "
                              "has no `identity_center` section (or the output predates it; rebuild it)")
    entry = sets.get(name)
    if entry is None:
        raise EvaluationError(f"unknown permission set {name!r}; permission sets: {', '.join(sorted(sets))}")
    if account.name not in entry.accounts:
        raise EvaluationError(f"permission set {name} is not assigned in account {account.name}; assigned in: "
                              f"{', '.join(entry.accounts) or 'no account'}")
    return entry


def role_name(entry: PermissionSetEntry) -> str:
    """``AWSReservedSSO_<set>_<placeholder suffix>``."""
    return sso_role_name(entry.name)


def center_region(org: Organization) -> str:
    """The Identity Center instance's region (the home region when the tree names none)."""
    center = org.identity_center
    return center.region if center is not None else org.home_region


def caller(org: Organization, entry: PermissionSetEntry, account: Account) -> Caller:
    """A session of the set's role in the account."""
    role = sso_role_arn(org.partition, account.id, entry.name, center_region(org))
    session = arn(org.partition, "sts", "", account.id, f"assumed-role/{role_name(entry)}/{SESSION_NAME}")
    return Caller("role", role, account.id, session)


def note(entry: PermissionSetEntry, account: Account) -> tuple[str, str]:
    """What explain shows first: which role the session is of, and how long sessions last."""
    return ("session", f"Identity Center session of permission set {entry.name} in {account.name} "
            f"({entry.session_duration}, {entry.session_seconds} s): role {role_name(entry)} — the suffix is a "
            "placeholder, AWS assigns it")


def policies(org: Organization, entry: PermissionSetEntry,
             account: Account) -> tuple[list[Policy], Policy | None, list[str]]:
    """Identity policies, boundary and unmodeled AWS managed policy ARNs of the set's role in the account."""
    found: list[Policy] = []
    unmodeled: list[str] = []
    if entry.file:
        found.append(Policy(f"inline policy of permission set {entry.name}", "identity",
                            org.document(entry.file, account), entry.file))
    for managed_arn in entry.managed_policies:
        policy = org.managed_policy(managed_arn, account)
        if policy is None:
            unmodeled.append(managed_arn)
        else:
            found.append(policy)
    for ref in entry.customer_managed:
        found.append(_customer_managed(org, entry, account, ref.path, ref.name, "identity"))
    boundary = None
    if entry.boundary is not None and entry.boundary.customer_managed is not None:
        ref = entry.boundary.customer_managed
        boundary = _customer_managed(org, entry, account, ref.path, ref.name, "boundary")
    elif entry.boundary is not None and entry.boundary.arn:
        managed = org.managed_policy(entry.boundary.arn, account)
        if managed is None:
            raise EvaluationError(f"the boundary {entry.boundary.arn} of permission set {entry.name} has no document "
                                  "in guardrails' reference data")
        boundary = Policy(managed.name, "boundary", managed.document, managed.source)
    return found, boundary, unmodeled


def _customer_managed(org: Organization, entry: PermissionSetEntry, account: Account, path: str, name: str,
                      kind: Literal["identity", "boundary"]) -> Policy:
    """A customer managed reference, resolved to the policy the account's class deploys under that name and path."""
    deployed = org.class_entry(account).customer_managed(org.partition, path, name)
    if deployed is None:
        what = "boundary" if kind == "boundary" else "customer managed policy"
        raise EvaluationError(f"permission set {entry.name} refers to the {what} {path}{name}, which account "
                              f"{account.name} does not hold: Identity Center cannot provision the set there")
    return Policy(deployed.name, kind, org.document(deployed.file, account), deployed.file)
