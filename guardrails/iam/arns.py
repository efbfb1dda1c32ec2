"""Amazon Resource Names: the one place that builds and parses them.

Format: ``arn:partition:service:region:account-id:resource`` — the resource part may itself hold ``:`` and ``/``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html). IAM ARNs have no region; IAM users,
roles and policies carry their path between the type and the name
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns).
Every function takes the partition, so GovCloud and China organizations get ``aws-us-gov``/``aws-cn`` ARNs; the
account may be a placeholder (``${account_id}``, ``*``) the emitters substitute.
"""

from __future__ import annotations

from dataclasses import dataclass

ARN_PARTS = 6  # arn:partition:service:region:account:resource

# The role path AWS gives the roles Identity Center creates for a permission set in each assigned account
# (https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html).
SSO_ROLE_PATH = "/aws-reserved/sso.amazonaws.com/"
SSO_ROLE_PREFIX = "AWSReservedSSO_"
# The suffix is AWS's choice (16 hex digits) and unknowable offline: evaluations use this pattern-free stand-in.
SSO_ROLE_SUFFIX_PLACEHOLDER = "0000000000000000"


def arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def iam_arn(partition: str, account: str, resource: str) -> str:
    """An IAM (global, region-less) ARN: ``root``, ``role/path/name``, ``mfa/*``, ``saml-provider/x``…"""
    return arn(partition, "iam", "", account, resource)


def root_arn(partition: str, account: str) -> str:
    """The account principal, as a policy's ``Principal`` names a whole account."""
    return iam_arn(partition, account, "root")


def _pathed(kind: str, name: str) -> str:
    """``role`` + ``/guardrails/x`` or ``guardrails/x`` or ``x`` → ``role/guardrails/x``."""
    return f"{kind}/{name.strip('/')}"


def role_arn(partition: str, account: str, name: str) -> str:
    """A role ARN; ``name`` may carry the role's path (``guardrails/BreakGlass``)."""
    return iam_arn(partition, account, _pathed("role", name))


def user_arn(partition: str, account: str, name: str) -> str:
    return iam_arn(partition, account, _pathed("user", name))


def policy_arn(partition: str, account: str, path: str, name: str) -> str:
    """A customer managed policy ARN; ``path`` is IAM's ``/`` or ``/guardrails/``."""
    path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
    return iam_arn(partition, account, f"policy{path}{name}")


def aws_managed_policy_arn(partition: str, name: str) -> str:
    """``arn:aws:iam::aws:policy/<path/>Name`` for an AWS managed policy (``job-function/ViewOnlyAccess``)."""
    return iam_arn(partition, "aws", f"policy/{name.strip('/')}")


def saml_provider_arn(partition: str, account: str, name: str) -> str:
    return iam_arn(partition, account, f"saml-provider/{name}")


def oidc_provider_arn(partition: str, account: str, host: str) -> str:
    return iam_arn(partition, account, f"oidc-provider/{host}")


def sso_role_name(permission_set: str, suffix: str = SSO_ROLE_SUFFIX_PLACEHOLDER) -> str:
    """``AWSReservedSSO_<set>_<suffix>``: the name of the role a permission set becomes in an assigned account."""
    return f"{SSO_ROLE_PREFIX}{permission_set}_{suffix}"


def sso_role_path(region: str) -> str:
    """The role's path: ``/aws-reserved/sso.amazonaws.com/``, plus the instance's region unless it is us-east-1
    (https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html)."""
    return SSO_ROLE_PATH if region == "us-east-1" else f"{SSO_ROLE_PATH}{region}/"


def sso_role_arn(partition: str, account: str, permission_set: str, region: str,
                 suffix: str = SSO_ROLE_SUFFIX_PLACEHOLDER) -> str:
    """The role Identity Center creates for a permission set in an account (its suffix is AWS's choice)."""
    return iam_arn(partition, account, f"role{sso_role_path(region)}{sso_role_name(permission_set, suffix)}")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return arn(self.partition, self.service, self.region, self.account, self.resource)


def parse_arn(text: str) -> Arn | None:
    """The six parts of an ARN, or None when the text is not an ARN (``*``, a bare name)."""
    parts = text.split(":", ARN_PARTS - 1)
    if len(parts) != ARN_PARTS or parts[0] != "arn":
        return None
    return Arn(*parts[1:])


def arn_account(text: str) -> str | None:
    """The 12-digit account id of an ARN; None when it is not an ARN or names no one account (S3 buckets have
    none, AWS managed policies say ``aws``, patterns ``*``)."""
    parsed = parse_arn(text)
    return parsed.account if parsed and len(parsed.account) == 12 and parsed.account.isdigit() else None


def arn_region(text: str) -> str | None:
    """The region of an ARN; None for global resources and for a region pattern."""
    parsed = parse_arn(text)
    return parsed.region if parsed and parsed.region and not any(c in parsed.region for c in "*?") else None
