"""The lockout proof's ARNs from the IAM database's formats (probes._fill) against the plain reading of the rule:
the organization's values for ${Partition}, ${Region} and ${Account}, the name for the first other placeholder,
``guardrails`` for the rest — over every resource type format the database holds."""

from __future__ import annotations

import re

from guardrails.evaluation.lockout.probes import _fill
from guardrails.iam.actions import iam_database


def _reference(arn_format: str, partition: str, region: str, account_id: str, name: str) -> str:
    text = arn_format.replace("${Partition}", partition).replace("${Region}", region).replace("${Account}", account_id)
    names = iter([name])
    return re.sub(r"\$\{[^}]+\}", lambda _: next(names, "guardrails"), text)


def test_every_database_format_is_filled_as_the_rule_says() -> None:
    database = iam_database()
    formats = sorted({rtype.arn for prefix in database.services() for rtype in
                      database.service(prefix).resource_types.values()})
    assert len(formats) > 500  # the whole database, not a sample
    for arn_format in formats:
        for name in ("guardrails-role", "path/with/slashes"):
            assert _fill(arn_format, "aws-cn", "eu-west-1", "123456789012", name) == _reference(
                arn_format, "aws-cn", "eu-west-1", "123456789012", name), arn_format
