"""The policy tree alone: ``policies/`` and the manifest, plus what the escalation analysis reads of the templates.

``guardrails check``, ``test`` and ``explain`` need what the evaluator reads (``policies/``) and, for the escalation
analysis, the custom-resource functions the CloudFormation baselines deploy and their roles
(guardrails/escalation/functions.py reads them from the templates' ``Resources``). Rendering every template costs
seconds; the function resources are built here by the same code the templates use (``password_policy``,
``account_settings``) and dumped as a ``Resources``-only stub under the template's path, so the functions found
are the full compile's (tests/test_fast_commands.py compares them). The stubs are never written: a build always
runs :func:`guardrails.emitters.emit_all`.
"""

from __future__ import annotations

from typing import Any

from guardrails.policies.ir import Plan

_KEEP = ("AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Logs::LogGroup")  # what functions() looks up


def emit_policy_tree(plan: Plan) -> dict[str, str]:
    """``policies/`` (documents and manifest) and the function stubs, ``{path relative to output/: text}``."""
    from guardrails.emitters import policies

    files = policies.emit(plan)
    for path, text in function_templates(plan).items():
        if path in files:
            raise RuntimeError(f"two emitters produced {path}")
        files[path] = text
    return dict(sorted(files.items()))


def function_templates(plan: Plan) -> dict[str, str]:
    """``{template path: Resources-only YAML}`` for every template that deploys a custom-resource function."""
    from guardrails.emitters.cloudformation import account_settings, password_policy
    from guardrails.emitters.cloudformation.baseline import baseline_path
    from guardrails.emitters.cloudformation.render import dump

    found: dict[str, dict[str, Any]] = {}
    for cls in plan.classes:
        if cls.baseline.password_policy is not None:  # as baseline.build_template adds them
            management = any(plan.account(a).management for a in cls.accounts)
            found[baseline_path(cls, management=management)] = password_policy.resources(cls.baseline.password_policy)
    security = plan.security
    if security is not None and (security.ebs_default_encryption or security.s3_block_public_access):
        # The arguments security.build_account_security passes (its conditions decide where, not what is granted).
        condition = "IsAllowedRegion" if security.ebs_default_encryption else "IsHomeRegion"
        s3: Any = security.s3_block_public_access
        if s3 and condition == "IsAllowedRegion" and tuple(plan.org.allowed_regions) != (plan.org.home_region,):
            s3 = {"Fn::If": ["IsHomeRegion", True, False]}
        found["cloudformation/account-security.yaml"] = account_settings.resources(
            ebs=security.ebs_default_encryption, s3=s3, condition=condition)
    return {path: dump({"Resources": {k: v for k, v in resources.items() if v.get("Type") in _KEEP}})
            for path, resources in found.items()}
