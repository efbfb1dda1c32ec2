"""Names in access tests (``tests:``): their actions and resource ARNs, checked like statements' (issue 12).

A test is one request per action, and a request names a real action: an action that does not exist is allowed
by nothing, so a misspelled ``expect: deny`` test would pass whatever the policies say. Unknown actions are
GR312 with the closest action as a suggestion (the IAM database check is :func:`guardrails.policies.names.
action_problem`, passed in). Patterns are refused too: the evaluator matches the policies' patterns against the
request's action and takes a ``*`` or ``?`` in the request literally
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html), so ``s3:Get*`` would
be judged as no real action.

A test's resource is ``*`` or an ARN (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html) with
the substitutions the evaluator fills in: ``${partition}``, ``${account_id}``, ``${account_id:NAME}`` and
``${region}``. As in statements, a partition written literally (``arn:aws:``) is GR306, and so is any other
``${…}``; an ARN that is not one is GR203, as for catalog ARN parameters; ``${account_id:NAME}`` must name an
account (GR301).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from functools import cache

from guardrails.blueprint.schema import AccessTest
from guardrails.diagnostics import Diagnostic
from guardrails.iam.actions import has_wildcard, iam_database
from guardrails.iam.arns import ARN_PARTS
from guardrails.model.build import Model, _account_hint

# (message, hint) for an action the IAM database does not know, or None.
ActionCheck = Callable[[str], tuple[str, str] | None]

SUBSTITUTIONS = ("${partition}", "${account_id}", "${account_id:NAME}", "${region}")
ARN_SHAPE = "arn:${partition}:service:region:account:resource"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_EXAMPLES = 3  # actions a pattern's hint lists


def access_test_problems(model: Model, action_problem: ActionCheck) -> list[Diagnostic]:
    """Located errors for the actions and resources of every access test, in the blueprint's order."""
    found: list[Diagnostic] = []
    for name, test in model.blueprint.tests.items():
        for path, action in _actions(name, test):
            problem = _action_problem(action, action_problem, test.expect)
            if problem:
                found.append(Diagnostic.of("GR312", f"test {name!r}: {problem[0]}", model.source.where(*path),
                                           problem[1]))
        if test.resource != "*":
            where = model.source.where("tests", name, "resource")
            found.extend(Diagnostic.of(code, f"test {name!r}: {message}", where, hint)
                         for code, message, hint in resource_problems(test.resource, model))
    return found


def _actions(name: str, test: AccessTest) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(YAML path, action) of each action the test names."""
    if test.actions is not None:
        for index, action in enumerate(test.actions):
            yield ("tests", name, "actions", index), action
    elif test.action is not None:
        yield ("tests", name, "action"), test.action


def _action_problem(action: str, action_problem: ActionCheck, expect: str) -> tuple[str, str] | None:
    """(message, hint) when the test's action is a pattern or names no action; None when it is one action."""
    problem = action_problem(action)
    if has_wildcard(action):
        matched = [] if problem else iam_database().expand(action)
        examples = ", ".join(f"`{a.full_name}`" for a in matched[:_EXAMPLES])
        more = f" ({len(matched)} match, e.g. {examples})" if matched else ""
        hint = (f"{problem[1]}; " if problem else "") + (
            f"the evaluator takes `*` and `?` in a request literally: list the actions to test under `actions:`{more}")
        return f"{action!r} is a pattern; an access test names concrete actions", hint
    if problem is None:
        return None
    why = "; a deny test of an action that does not exist passes whatever the policies say" if expect == "deny" else ""
    return problem[0] + why, problem[1]


def resource_problems(resource: str, model: Model) -> list[tuple[str, str, str]]:
    """(code, message, hint) for each problem of a test's resource: not an ARN, a literal partition, an unknown
    substitution or account, an ARN service no resource type has."""
    problems: list[tuple[str, str, str]] = []
    for name in _PLACEHOLDER.findall(resource):
        if name.startswith("account_id:"):
            account = name.removeprefix("account_id:")
            if account not in model.accounts:
                problems.append(("GR301", f"unknown account {account!r} in ${{account_id:{account}}}",
                                 _account_hint(model, account)))
        elif "${" + name + "}" not in SUBSTITUTIONS:
            problems.append(("GR306", f"unknown substitution ${{{name}}} in the resource", _substitution_hint(name)))
    if "${" in _PLACEHOLDER.sub("", resource):
        problems.append(("GR306", "`${` is not closed in the resource", f"write one of {', '.join(SUBSTITUTIONS)}"))
    parts = resource.split(":", ARN_PARTS - 1)
    if parts[0] != "arn" or len(parts) != ARN_PARTS:
        problems.append(("GR203", f"{resource!r} is not an ARN",
                         f"a test's resource is `*` or an ARN of six parts: {ARN_SHAPE}"))
        return problems
    partition, service = parts[1], parts[2]
    if partition != "${partition}" and not has_wildcard(partition):
        fixed = ":".join(("arn", "${partition}", *parts[2:]))
        problems.append(("GR306", f"partition {partition!r} written literally in the resource ARN: write "
                         "`arn:${partition}:…`", f"did you mean `{fixed}`? Then the test holds in every partition"))
    if service and "$" not in service and not has_wildcard(service) and service.lower() not in arn_services():
        close = difflib.get_close_matches(service.lower(), sorted(arn_services()), n=1, cutoff=0.6)
        problems.append(("GR203", f"no AWS resource type has ARNs of service {service!r}",
                         f"did you mean `{close[0]}`?" if close else "the service part of an ARN is the service "
                         "namespace of the AWS Service Authorization Reference (e.g. `s3`, `iam`, `ec2`)"))
    return problems


def _substitution_hint(name: str) -> str:
    close = difflib.get_close_matches("${" + name + "}", SUBSTITUTIONS, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if ":" in name:  # a policy variable such as ${aws:username}: AWS resolves those in policies, not in requests
        return "a test's resource is the request's resource, not a policy: write the value the request would name"
    return f"use one of {', '.join(SUBSTITUTIONS)}"


@cache
def arn_services() -> frozenset[str]:
    """Service namespaces of ARNs: those of every resource type in the IAM database, and its service prefixes."""
    db = iam_database()
    found = {prefix.lower() for prefix in db.services()}
    for service in db.services_by_prefix.values():
        found.update(r.arn.split(":")[2].lower() for r in service.resource_types.values() if r.arn.count(":") >= 2)
    return frozenset(found)
