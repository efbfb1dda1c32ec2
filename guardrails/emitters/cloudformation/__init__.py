"""CloudFormation output: three management-account stacks, deployed in order, and one IAM baseline template
per class of accounts.

Layout (paths relative to ``output/``):

- ``cloudformation/organization.yaml`` (stack 1): OUs and the SCPs attached to the root and to OUs; exports the OU ids.
- ``cloudformation/organization-accounts.yaml`` (stack 2): member accounts and the SCPs attached to them; split into
  ``organization-accounts-1.yaml``, ``-2.yaml``… when they do not fit in one template.
- ``cloudformation/stacksets.yaml`` (stack 3): one StackSet per member-account class.
- ``cloudformation/<stack>-import.yaml`` + ``.json``: for a stack 1 or 2 whose OUs or accounts exist already.
- ``cloudformation/baseline-<class>.yaml``: the baseline a StackSet rolls out to that class's accounts.
- ``cloudformation/management-baseline.yaml``: the management account's baseline, a normal stack.
- With a blueprint ``security`` section (:mod:`.security`): ``organization-security.yaml`` (organization trail; the
  set-up commands in its header), ``log-archive.yaml``, ``security-analyzer.yaml`` and ``account-security.yaml``
  (every account, every alert region; its StackSet is in ``stacksets.yaml``).

Everything is rendered from the plan with a deterministic YAML dumper and long-form intrinsics
(``Fn::Sub``, ``Ref``, ``Fn::GetAtt``), so any YAML parser reads the templates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardrails.policies.ir import Plan

__all__ = ["CloudFormationLimitError", "emit"]


def __getattr__(name: str) -> Any:
    # Lazy: importing one module of the package (the function resources, for `guardrails check`) must not load
    # every renderer.
    if name == "CloudFormationLimitError":
        from guardrails.emitters.cloudformation.render import CloudFormationLimitError

        return CloudFormationLimitError
    raise AttributeError(name)


def emit(plan: Plan) -> dict[str, str]:
    """Every CloudFormation file, ``{path relative to output/: text}``. Pure and deterministic.

    Raises :class:`CloudFormationLimitError` (a ValueError) when a template would exceed a CloudFormation quota.
    """
    from guardrails.emitters.cloudformation.baseline import Entries, baseline_path, render_baseline
    from guardrails.emitters.cloudformation.organization import render as render_organization
    from guardrails.emitters.cloudformation.security import render as render_security

    files = render_organization(plan)
    memo: Entries = {}  # a principal in many classes is built and dumped once (baseline._entry)
    for cls in plan.classes:
        management = any(plan.account(a).management for a in cls.accounts)
        path = baseline_path(cls, management=management)
        if path in files:
            raise ValueError(f"two account classes render to {path}")
        files[path] = render_baseline(plan, cls, management=management, memo=memo)
    for path, text in render_security(plan).items():
        if path in files:
            raise ValueError(f"the security baseline and an account class both render to {path}")
        files[path] = text
    return dict(sorted(files.items()))
