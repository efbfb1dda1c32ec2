"""guardrails as AWS CDK constructs (the optional extra ``guardrails[cdk]``: aws-cdk-lib and constructs, which run on
Node.js). Built from the CloudFormation emitter's templates, so a synthesized stack is ``output/cloudformation/``'s
template for it (docs/cdk.md).

aws_cdk is imported lazily: ``import guardrails.cdk`` works without the extra; using a construct does not.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AccountBaseline", "GuardrailsApp", "GuardrailsTemplate", "IdentityCenter", "OrganizationGuardrails",
           "SecurityBaseline", "acknowledge_findings", "add_cdk_nag", "load_plan", "new_app", "stack_templates"]

_HOMES = {
    "AccountBaseline": "constructs", "IdentityCenter": "constructs", "OrganizationGuardrails": "constructs",
    "SecurityBaseline": "constructs", "GuardrailsApp": "app", "new_app": "app", "GuardrailsTemplate": "include",
    "load_plan": "plan", "stack_templates": "templates", "acknowledge_findings": "nag", "add_cdk_nag": "nag",
}
_NEEDS_CDK = {"constructs", "app", "include", "nag"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(name)
    if home in _NEEDS_CDK:
        try:
            import aws_cdk  # noqa: F401
        except ImportError as error:
            raise ImportError(f"guardrails.cdk.{name} needs aws-cdk-lib: pip install 'guardrails[cdk]' "
                              "(and Node.js 20 or later on the PATH)") from error
    from importlib import import_module

    return getattr(import_module(f"guardrails.cdk.{home}"), name)
