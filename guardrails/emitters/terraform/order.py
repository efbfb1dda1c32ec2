"""The apply order of the Terraform root modules: one list of steps, the single source of the order that the
files' comments, docs/deploying.md and the tests (tests/test_deploy_terraform.py) follow.

The rule the order keeps: a root module reads at plan time (data sources) only what an earlier step created, so
every step plans on a new organization. The organization trail is a step of its own for that reason, and because
CloudTrail checks the log bucket, its policy and its key when it creates the trail
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.emitters.terraform.hcl import path_segment
from guardrails.emitters.terraform.render import ROOT
from guardrails.policies.ir import Plan

ORGANIZATION = f"{ROOT}/organization"
TRAIL = f"{ROOT}/organization-trail"
IDENTITY_CENTER = f"{ROOT}/identity-center"


@dataclass(frozen=True)
class Step:
    """Root modules (directories under ``output/``) applied after every earlier step; in any order among them."""

    directories: tuple[str, ...]
    what: str  # what the step creates, for comments and docs
    summary: str | None = None  # how comments name many directories at once ("every other account …")

    @property
    def label(self) -> str:
        return self.summary or ", ".join(self.directories)


def account_directory(name: str) -> str:
    return f"{ROOT}/accounts/{path_segment(name)}"


def has_account_root(plan: Plan, name: str) -> bool:
    """Whether the account gets a root module (guardrails.emitters.terraform.accounts.account_root)."""
    return plan.class_of(name) is not None or plan.security is not None


def apply_order(plan: Plan) -> tuple[Step, ...]:
    """The steps of the plan's Terraform, first to last."""
    steps = [Step((ORGANIZATION,), "the organization, OUs, accounts, SCPs, RCPs, trusted access, delegated "
                                   "administrators")]
    placed: set[str] = set()
    security = plan.security
    if security is not None:
        steps.append(Step((account_directory(security.log_account),), "the log bucket and its key"))
        placed.add(security.log_account)
        if security.trail_name:
            steps.append(Step((TRAIL,), "the organization trail, which needs the bucket and the key"))
        admins = [a for a in dict.fromkeys((security.analyzer_account, security.detection_admin))
                  if a and a not in placed]
        if admins:
            steps.append(Step(tuple(account_directory(a) for a in admins),
                              "organization analyzers, GuardDuty, Security Hub; delegated in step 1"))
            placed.update(admins)
    others = tuple(account_directory(a.name) for a in sorted(plan.accounts, key=lambda a: a.name)
                   if a.name not in placed and has_account_root(plan, a.name))
    if others:
        steps.append(Step(others, "each account's baseline", summary=(
            f"every other account in {ROOT}/accounts/" if placed else f"every account in {ROOT}/accounts/")))
    if plan.identity_center is not None:
        steps.append(Step((IDENTITY_CENTER,), "permission sets and assignments, which name the accounts' "
                                              "customer managed policies"))
    return tuple(steps)


def step_of(plan: Plan, directory: str) -> int:
    """1-based step of a root module directory."""
    for number, step in enumerate(apply_order(plan), 1):
        if directory in step.directories:
            return number
    raise KeyError(f"{directory} is no root module of the apply order")
