"""Replacements: what a change destroys and creates again, though the permissions may be the same afterwards.

Read from the two policy trees' manifests (accounts, their classes, each class's roles, policies, groups, users):

* **A StackSet that disappears** while accounts it deploys to remain: the class was renamed, merged into another or
  split. CloudFormation deletes the StackSet resource with its stack instances, and the roles, policies, groups and
  users they hold, then the new StackSet creates them again (``StackSetName`` cannot change in place:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stackset.html).
* **An account whose stack instance moves** from one StackSet to another that both remain (its class changed).
* **A role, managed policy, group or user that a format deletes and creates again**: a new name or path under
  the same key (its Terraform address; IAM cannot rename or re-path a role or a managed policy, and CloudFormation
  replaces a group or user for a new name), or the same name under a new key (a renamed blueprint key: a new
  Terraform address and CloudFormation logical id). Trees written before the manifest had keys pair by name.

The Terraform module of an account is always called ``module "baseline"``, so a class name changes only the
module's ``source``: the resource addresses, and so the state, stay (``terraform init`` fetches the new source).
"""

from __future__ import annotations

from collections import defaultdict

from guardrails.evaluation.organization import Organization
from guardrails.iam.manifest import AccountClass
from guardrails.policies.class_lock import LOCK_FILE, stackset_name
from guardrails.review.changes import Replacement, RiskFlag

MAX_NAMED = 6  # what a risk line names before "… and N more"; the Replacement lists everything


def _identities(cls: AccountClass) -> tuple[str, ...]:
    """What a class's stack holds, as IAM names it: ``role/PATH…NAME``, ``policy/…``, ``group/…``, ``user/…``."""
    return (*(f"role{r.path}{r.name}" for r in cls.roles),
            *(f"policy{p.path}{p.name}" for p in cls.managed_policies),
            *(f"group{g.path}{g.name}" for g in cls.groups), *(f"user{u.path}{u.name}" for u in cls.users))


def _named(items: tuple[str, ...]) -> str:
    more = f" … and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return ", ".join(items[:MAX_NAMED]) + more


def _member_classes(org: Organization) -> dict[str, tuple[str, ...]]:
    """Class key → its accounts, for classes deployed by a StackSet (not the management account's)."""
    management = {a.name for a in org.manifest.accounts if a.management}
    return {c.key: c.accounts for c in org.manifest.classes if not set(c.accounts) & management}


def replacements(base: Organization, head: Organization) -> tuple[list[Replacement], list[RiskFlag]]:
    """Every replacement from ``base`` to ``head`` and its risk flag (high: something deployed is destroyed)."""
    found = _stacksets(base, head) + _stack_instances(base, head) + _iam(base, head)
    flags = []
    for item in found:
        severity = "medium" if item.kind in ("stack-instance", "group") else "high"
        then = f"replaced by {item.after}" if item.after else "deleted"
        flags.append(RiskFlag(severity, f"{item.kind}-replaced", item.before, item.accounts,
                              f"{then}: destroys {_named(item.destroys)} (see Replacements)"))
    return found, flags


def _stacksets(base: Organization, head: Organization) -> list[Replacement]:
    """StackSets of the base that the head no longer has while accounts they deploy to remain."""
    before, after = _member_classes(base), _member_classes(head)
    head_accounts = {a.name: a for a in head.manifest.accounts}
    out = []
    for key, accounts in sorted(before.items()):
        kept = tuple(a for a in accounts if a in head_accounts)
        if key in after or not kept:
            continue
        successors = sorted({head_accounts[a].class_key for a in kept if head_accounts[a].class_key})
        new = ", ".join(stackset_name(k) for k in successors if k in after)
        modules = ", ".join(f"modules/baseline-{k}" for k in successors)
        out.append(Replacement(
            "stackset", f"StackSet {stackset_name(key)}", f"StackSet {new}" if new else "", kept,
            _identities(base.manifest.class_by_key(key)),
            f"CloudFormation deletes the StackSet with its stack instances and everything they hold, then "
            f"{new or 'no StackSet'} creates them again (a window without these roles; sessions, access keys and "
            f"console passwords of the users are lost); keep the name in {LOCK_FILE}, or migrate as "
            "docs/deploying.md (Renaming a baseline class) says; Terraform keeps its state: module.baseline of each "
            f"account only changes its source from modules/baseline-{key} to {modules or 'nothing'} "
            "(run terraform init)"))
    return out


def _stack_instances(base: Organization, head: Organization) -> list[Replacement]:
    """Accounts whose class changed between two StackSets that both remain (an account moved, or its identities)."""
    before, after = _member_classes(base), _member_classes(head)
    moved: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account in head.manifest.accounts:
        old = base.manifest.account(account.name)
        if old is None or old.class_key == account.class_key or old.class_key not in after:
            continue
        if old.class_key in before and account.class_key in after:
            moved[(old.class_key, account.class_key)].append(account.name)
    return [Replacement(
        "stack-instance", f"stack instance of StackSet {stackset_name(old)}", f"StackSet {stackset_name(new)}",
        tuple(sorted(accounts)), _identities(base.manifest.class_by_key(old)),
        f"the account leaves {stackset_name(old)}: with OU targets its stack is retained and still owns these "
        f"resources, so the stack instance of {stackset_name(new)} fails (EntityAlreadyExists) until the retained "
        "stack is deleted as docs/deploying.md (Accounts that move between OUs) says; with account targets the "
        "instance is deleted first; Terraform changes the module source only")
        for (old, new), accounts in sorted(moved.items())]


_TERRAFORM_TYPE = {"role": "aws_iam_role", "managed-policy": "aws_iam_policy", "group": "aws_iam_group",
                   "user": "aws_iam_user"}
_LABEL = {"role": "role", "managed-policy": "policy", "group": "group", "user": "user"}
# The attributes whose change deletes and creates the resource again in both formats. IAM cannot
# change a role's or a managed policy's name or path; groups and users can be renamed (UpdateGroup, UpdateUser),
# which Terraform does in place, while CloudFormation replaces them on a new GroupName or UserName:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-group.html
_REPLACED_ON: dict[str, tuple[str, ...]] = {"role": ("name", "path"), "managed-policy": ("name", "path"),
                                             "group": (), "user": ()}
_Entry = tuple[str, str, str, tuple[str, ...]]  # (logical name, path, name, former logical names)


def _entries(cls: AccountClass) -> dict[str, list[_Entry]]:
    return {"role": [(r.logical_name, r.path, r.name, r.moved_from) for r in cls.roles],
            "managed-policy": [(p.logical_name, p.path, p.name, p.moved_from) for p in cls.managed_policies],
            "group": [(g.logical_name, g.path, g.name, g.moved_from) for g in cls.groups],
            "user": [(u.logical_name, u.path, u.name, u.moved_from) for u in cls.users]}


def _pairs(before: list[_Entry], after: list[_Entry]) -> list[tuple[_Entry, _Entry]]:
    """The same resource on both sides: by logical name (its Terraform address) when both trees have one, or by a
    former logical name the head lists (``moved_from``: Terraform moves it, CloudFormation keeps its logical id),
    else by name."""
    by_key = {e[0]: e for e in after if e[0]}
    by_key.update({former: e for e in after for former in e[3] if former not in by_key})
    pairs = [(b, by_key[b[0]]) for b in before if b[0] in by_key]
    matched_before, matched_after = {b for b, _ in pairs}, {a for _, a in pairs}
    by_name = {e[2]: e for e in after if e not in matched_after}
    pairs += [(b, by_name[b[2]]) for b in before if b not in matched_before and b[2] in by_name]
    return pairs


def _iam(base: Organization, head: Organization) -> list[Replacement]:
    """Roles, managed policies, groups and users of an account that a format deletes and creates again: a new name
    or path under the same Terraform address, or the same name under a new address (a renamed blueprint key)."""
    changed: dict[tuple[str, str, str, str, str], list[str]] = defaultdict(list)
    for account in head.manifest.accounts:
        old = base.manifest.account(account.name)
        if old is None:
            continue
        before, after = _entries(base.manifest.class_of(old)), _entries(head.manifest.class_of(account))
        for kind, entries in before.items():
            for (b_key, b_path, b_name, _), (h_key, h_path, h_name, h_moved) in _pairs(entries, after[kind]):
                label = _LABEL[kind]
                if b_key and h_key and b_key != h_key and b_key not in h_moved:
                    detail = (f"Terraform destroys {_address(kind, b_key)} and creates {_address(kind, h_key)} (no "
                              "moved block maps them); CloudFormation creates the new logical id first, which fails "
                              "while the old resource holds the name; list the old key in the "
                              f"{label}'s `moved_from`, or keep its blueprint key")
                elif (b_path != h_path and "path" in _REPLACED_ON[kind]) or \
                        (b_name != h_name and "name" in _REPLACED_ON[kind]):
                    detail = ("IAM cannot change its name or path: CloudFormation and Terraform delete it and create "
                              "it again (its ARN changes: trust and resource policies naming the old ARN stop "
                              "matching)")
                elif b_name != h_name:
                    detail = (f"CloudFormation replaces the {label} for a new name (Terraform renames it in place); "
                              + ("its login profile, access keys and MFA devices go with it" if kind == "user"
                                 else "its members are added to the new group again"))
                else:
                    continue
                before_at, after_at = f"{label}{b_path}{b_name}", f"{label}{h_path}{h_name}"
                if b_key and h_key and b_key != h_key and b_key not in h_moved:
                    before_at, after_at = f"{_address(kind, b_key)} ({before_at})", _address(kind, h_key)
                changed[(kind, before_at, after_at, f"{label}{b_path}{b_name}", detail)].append(account.name)
    return [Replacement(kind, before, after, tuple(sorted(accounts)), (destroyed,), detail)
            for (kind, before, after, destroyed, detail), accounts in sorted(changed.items())]


def _address(kind: str, key: str) -> str:
    return f"module.baseline.{_TERRAFORM_TYPE[kind]}.{key}"
