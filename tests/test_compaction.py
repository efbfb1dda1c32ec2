"""Safe compaction: wildcards expand to exactly the intended actions; documents fit, or split within the limit.

Property tests run under the project's hypothesis profiles (tests/conftest.py: derandomized, no deadlines in CI).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.diagnostics import GuardrailsError
from guardrails.policies import sizes
from guardrails.policies.compaction import (
    CompactionError,
    compact_actions,
    fit_document,
    fit_policy,
    split_policy,
)
from guardrails.iam.actions import iam_database
from guardrails.policies.ir import Condition, Limit, ManagedPolicy, PolicyDocument, Statement
from guardrails.policies.limits import default_limits
from guardrails.validators import _documents

SERVICES = ("s3", "ec2", "iam", "kms", "dynamodb", "lambda")
DB = iam_database()
MANAGED = default_limits()["managed_policy_chars"]
PER_ROLE = default_limits()["managed_policies_per_role"]


def expanded(patterns: Iterable[str]) -> set[str]:
    """Every action the patterns grant against the pinned database (its own matching), lowercased."""
    return {action for p in patterns for action in _expand(p)}


@cache
def _expand(pattern: str) -> frozenset[str]:
    return frozenset(a.full_name.lower() for a in DB.expand(pattern))


def limit(value: int) -> Limit:
    return Limit("managed_policy_chars", value, "non-whitespace", "test limit")


def policy(*statements: Statement, name: str = "data-engineer") -> ManagedPolicy:
    return ManagedPolicy(name.replace("-", "_"), name, "/guardrails/", "Data engineer", PolicyDocument(statements))


def grants(documents: list[PolicyDocument]) -> set[tuple]:
    """(effect, action, resource, everything else) for each action the documents name, expanded and lowercased."""
    out = set()
    for document in documents:
        for s in document.statements:
            context = (s.effect, s.not_actions, s.not_resources, s.principals, s.conditions)
            for action in expanded(s.actions):
                out.update((action, resource, context) for resource in s.resources)
    return out


# ----------------------------------------------------------------------------- strategies


def _families(prefix: str) -> list[str]:
    """The word-boundary stems of a service's actions (``Get``, ``GetObject``, …): wildcard-shaped subsets."""
    stems = set()
    for info in DB.service(prefix).actions.values():
        words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+|[A-Z]+(?![a-z])", info.name)
        stems.update("".join(words[:n]) for n in range(1, min(len(words), 3) + 1))
    return sorted(stems)


FAMILIES = {p: _families(p) for p in SERVICES}


@cache
def _family(prefix: str, stem: str) -> tuple[str, ...]:
    return tuple(a.full_name for a in DB.expand(f"{prefix}:{stem}*"))


@st.composite
def action_sets(draw: st.DrawFn, services: tuple[str, ...] = SERVICES, max_services: int = 1) -> set[str]:
    """Intended actions: whole families (so wildcards are possible), random actions, a few holes punched."""
    chosen = draw(st.lists(st.sampled_from(services), min_size=1, max_size=max_services, unique=True))
    out: set[str] = set()
    for prefix in chosen:
        names = sorted(a.full_name for a in DB.service(prefix).actions.values())
        for stem in draw(st.lists(st.sampled_from(FAMILIES[prefix]), max_size=3)):
            out.update(_family(prefix, stem))
        out.update(draw(st.lists(st.sampled_from(names), max_size=8)))
        if draw(st.booleans()) and draw(st.booleans()):
            out.update(names)  # the whole service, a quarter of the time
        for hole in draw(st.lists(st.sampled_from(names), max_size=3)):
            out.discard(hole)
        if not out:
            out.add(names[0])
    return out


def _respelled(actions: set[str], seed: int) -> list[str]:
    """The same actions in another order and case, with duplicates."""
    rng = random.Random(seed)
    out = [rng.choice([a, a.lower(), a.upper(), a.swapcase()]) for a in actions] + rng.sample(sorted(actions), 1)
    rng.shuffle(out)
    return out


# ----------------------------------------------------------------------------- compact_actions: properties


@settings(max_examples=100)
@given(action_sets())
def test_compacted_list_expands_to_exactly_the_intended_actions(actions: set[str]) -> None:
    compacted = compact_actions(actions)
    assert expanded(compacted) == {a.lower() for a in actions}  # never over-grants, never under-grants
    for item in compacted:  # and each wildcard on its own stays within the intended set
        assert expanded([item]) <= {a.lower() for a in actions}


@settings(max_examples=50)
@given(action_sets(max_services=3))
def test_several_services_at_once(actions: set[str]) -> None:
    compacted = compact_actions(actions)
    assert expanded(compacted) == {a.lower() for a in actions}
    assert {c.split(":")[0] for c in compacted} == {a.split(":")[0] for a in actions}


@settings(max_examples=50)
@given(action_sets(max_services=2), st.integers(0, 2**16))
def test_deterministic_whatever_the_order_case_and_duplicates(actions: set[str], seed: int) -> None:
    compacted = compact_actions(actions)
    assert compact_actions(_respelled(actions, seed)) == compacted
    assert list(compacted) == sorted(compacted)


@settings(max_examples=50)
@given(action_sets(max_services=2))
def test_idempotent(actions: set[str]) -> None:
    compacted = compact_actions(actions)
    assert compact_actions(expanded(compacted)) == compacted


@settings(max_examples=50)
@given(action_sets(max_services=2))
def test_never_longer_than_the_input(actions: set[str]) -> None:
    compacted = compact_actions(actions)
    assert len(compacted) <= len(actions)
    assert sum(len(c) for c in compacted) <= sum(len(a) for a in actions)


# ----------------------------------------------------------------------------- compact_actions: examples


def test_a_whole_service_becomes_service_star() -> None:
    assert compact_actions(a.full_name for a in DB.service("s3").actions.values()) == ("s3:*",)
    everything_but_one = [a.full_name for a in DB.service("kms").actions.values() if a.name != "Decrypt"]
    assert "kms:*" not in compact_actions(everything_but_one)


def test_a_wildcard_that_would_over_grant_is_left_explicit() -> None:
    # s3:GetObject* would also grant s3:GetObjectTagging (and more): the names stay explicit.
    assert compact_actions(["s3:GetObject", "s3:GetObjectAcl"]) == ("s3:GetObject", "s3:GetObjectAcl")


def test_a_whole_family_becomes_its_wildcard() -> None:
    family = [a.full_name for a in DB.expand("s3:GetObject*")]
    assert compact_actions(family) == ("s3:GetObject*",)
    assert compact_actions([*family, *(a.full_name for a in DB.expand("s3:List*"))]) == ("s3:GetObject*", "s3:List*")
    describe = [a.full_name for a in DB.expand("ec2:Describe*")]
    assert compact_actions(describe) == ("ec2:Describe*",)
    assert "ec2:Describe*" not in compact_actions(describe[1:])


def test_explicit_names_keep_aws_spelling_and_wildcards_too() -> None:
    assert compact_actions(["S3:GETOBJECT", "s3:getobjectacl"]) == ("s3:GetObject", "s3:GetObjectAcl")
    assert compact_actions([a.full_name.lower() for a in DB.expand("s3:GetObject*")]) == ("s3:GetObject*",)


def test_only_explicit_known_names_are_accepted() -> None:
    with pytest.raises(ValueError, match="explicit action names"):
        compact_actions(["s3:Get*"])
    with pytest.raises(ValueError, match="unknown action 's3:GetObjekt'"):
        compact_actions(["s3:GetObjekt"])
    assert compact_actions([]) == ()


# ----------------------------------------------------------------------------- fit_document


def _allow(sid: str, pattern: str, resources: tuple[str, ...] = ("*",)) -> Statement:
    return Statement(sid, "Allow", actions=tuple(sorted(a.full_name for a in DB.expand(pattern))), resources=resources)


def test_a_document_that_fits_is_left_untouched() -> None:
    document = PolicyDocument((_allow("ReadObjects", "s3:GetObject*"),))
    assert fit_document(document, MANAGED) == (document, False)  # explicit: no limit asks for wildcards


def test_compacts_just_enough_statements_the_biggest_saving_first() -> None:
    big, small = _allow("Describe", "ec2:Describe*"), _allow("ReadObjects", "s3:GetObject*")
    document = PolicyDocument((small, big))
    size = sizes.deployed_size(document, MANAGED)
    fitted, compacted = fit_document(document, limit(size - 1))
    assert compacted
    assert fitted.statements == (small, dataclasses.replace(big, actions=("ec2:Describe*",)))
    assert fit_document(fitted, limit(size - 1)) == (fitted, False)  # idempotent


def test_not_action_lists_are_never_compacted() -> None:
    allow_not = Statement("AllowAllButObjects", "Allow", not_actions=_allow("x", "s3:GetObject*").actions,
                          resources=("*",))
    deny_not = Statement("DenyAllButDescribe", "Deny", not_actions=_allow("x", "ec2:Describe*").actions,
                         resources=("*",))
    deny = Statement("DenyKeyChanges", "Deny", actions=_allow("x", "kms:Delete*").actions, resources=("*",))
    document = PolicyDocument((allow_not, deny_not, deny))
    fitted, compacted = fit_document(document, limit(100))
    assert compacted
    assert fitted.statements[:2] == (allow_not, deny_not)  # still too big: returned for the caller to split
    assert fitted.statements[2].actions == ("kms:Delete*",)  # Deny action lists compact like Allow ones


def test_existing_wildcards_and_unknown_names_are_kept() -> None:
    statement = Statement("Mixed", "Allow", resources=("*",),
                          actions=tuple(sorted({"s3:List*", "s3:NotYetInTheDatabase",
                                                *(a.full_name for a in DB.expand("s3:GetObject*"))})))
    fitted, compacted = fit_document(PolicyDocument((statement,)), limit(50))
    assert compacted
    assert fitted.statements[0].actions == ("s3:GetObject*", "s3:List*", "s3:NotYetInTheDatabase")


# ----------------------------------------------------------------------------- split_policy


def _huge() -> ManagedPolicy:
    """A job function naming hundreds of actions no wildcard can shorten much, on many resources."""
    statements = []
    for n, prefix in enumerate(("ec2", "iam", "s3", "dynamodb", "lambda", "kms")):
        names = sorted(a.full_name for a in DB.service(prefix).actions.values())
        statements.append(Statement(f"Grant{n}", "Allow", actions=tuple(names[::2]),  # every other: few wildcards
                                    resources=tuple(f"arn:aws:{prefix}:${{region}}:${{account_id}}:thing/{i}"
                                                    for i in range(n * 3 + 1)),
                                    conditions=(Condition("StringEquals", "aws:RequestedRegion", ("${region}",)),)))
    statements.append(Statement("DenyOutsideRegion", "Deny", not_actions=("iam:*", "sts:*"), resources=("*",),
                                conditions=(Condition("StringNotEquals", "aws:RequestedRegion", ("${region}",)),)))
    return policy(*statements)


def test_split_into_parts_that_each_fit_and_together_grant_exactly_the_same() -> None:
    huge = _huge()
    result = fit_policy(huge, MANAGED, PER_ROLE.value)
    parts = result.policies
    assert 1 < len(parts) <= PER_ROLE.value
    assert [p.name for p in parts] == [f"data-engineer-{n}" for n in range(1, len(parts) + 1)]
    assert [p.key for p in parts] == [f"data_engineer_{n}" for n in range(1, len(parts) + 1)]
    for part in parts:
        assert sizes.deployed_size(part.document, MANAGED) <= MANAGED.value
        sids = [s.sid for s in part.document.statements]
        assert len(sids) == len(set(sids))
        assert (part.path, part.kind) == (huge.path, huge.kind)
    assert grants([p.document for p in parts]) == grants([huge.document])
    deny = [s for p in parts for s in p.document.statements if s.effect == "Deny"]
    assert deny == [huge.document.statements[-1]]  # NotAction statements are neither compacted nor cut
    assert result.compacted_sids  # which statements hold wildcards, for the report
    assert set(result.compacted) == {p.key for p in parts}
    assert split_policy(huge, MANAGED, PER_ROLE.value) == parts  # deterministic


def test_a_statement_too_big_for_one_part_is_cut_along_its_actions() -> None:
    names = tuple(sorted(a.full_name for a in DB.service("ec2").actions.values())[::3])
    huge = policy(Statement("Ec2", "Allow", actions=names, resources=("*",)))
    parts = split_policy(huge, limit(2000), 20)
    assert len(parts) > 1
    assert all(sizes.deployed_size(p.document, limit(2000)) <= 2000 for p in parts)
    assert [s.sid for p in parts for s in p.document.statements] == [f"Ec2Part{n}" for n in range(1, len(parts) + 1)]
    assert grants([p.document for p in parts]) == grants([huge.document])


def test_a_single_action_on_many_resources_is_cut_along_its_resources() -> None:
    resources = tuple(f"arn:aws:s3:::bucket-{n:04}/*" for n in range(400))
    huge = policy(Statement("Read", "Allow", actions=("s3:GetObject",), resources=resources))
    parts = split_policy(huge, MANAGED, 10)
    assert len(parts) > 1
    assert all(sizes.deployed_size(p.document, MANAGED) <= MANAGED.value for p in parts)
    assert grants([p.document for p in parts]) == grants([huge.document])


@settings(max_examples=25)
@given(st.lists(action_sets(max_services=2), min_size=1, max_size=4), st.integers(300, 3000))
def test_split_preserves_grants_for_any_document(action_lists: list[set[str]], value: int) -> None:
    document = policy(*(Statement(f"S{n}", "Allow", actions=tuple(sorted(a)), resources=(f"arn:aws:s3:::b{n}/*",))
                        for n, a in enumerate(action_lists)))
    parts = split_policy(document, limit(value), 1000)
    assert all(sizes.deployed_size(p.document, limit(value)) <= value for p in parts)
    assert grants([p.document for p in parts]) == grants([document.document])


def test_a_policy_that_fits_keeps_its_name_and_statements() -> None:
    small = policy(_allow("ReadObjects", "s3:GetObject*"))
    result = fit_policy(small, MANAGED, 1)
    assert result.policies == (small,)
    assert result.compacted == {"data_engineer": ()}
    assert not result.split


def test_a_compacted_policy_that_then_fits_is_not_split() -> None:
    wide = policy(_allow("Describe", "ec2:Describe*"), _allow("ReadObjects", "s3:GetObject*"))
    result = fit_policy(wide, limit(sizes.deployed_size(wide.document, MANAGED) - 1), 1)
    [fitted] = result.policies
    assert fitted.name == "data-engineer"
    assert fitted.document.statements[0].actions == ("ec2:Describe*",)
    assert result.compacted_sids == ("Describe",)


def test_too_many_parts_fail_with_a_clear_message() -> None:
    with pytest.raises(CompactionError) as raised:
        split_policy(_huge(), MANAGED, 2, job_function="data-engineer", attachment_limit=PER_ROLE)
    message = str(raised.value)
    assert isinstance(raised.value, GuardrailsError)
    assert "job function data-engineer (managed policy data-engineer)" in message
    size = sizes.deployed_size(_huge().document, MANAGED)
    assert f"is {size:,} characters" in message
    assert "limit of 6,144 (managed_policy_chars: IAM User Guide" in message
    needed = int(re.search(r"would need (\d+) managed policies", message).group(1))
    assert needed == len(split_policy(_huge(), MANAGED, 10)) > 2
    assert "may attach 10 managed policies" in message and "8 are taken by its other policies" in message
    assert "Narrow the job function's grants" in message and "split it" in message
    assert f"limits: {{managed_policies_per_role: {8 + needed}}}" in message


def test_a_statement_that_cannot_be_cut_small_enough_fails() -> None:
    statement = Statement("Read", "Allow", actions=("s3:GetObject",),
                          resources=("arn:aws:s3:::" + "x" * 300 + "/*",))
    with pytest.raises(CompactionError, match="statement Read is .* cannot be cut to fit the limit of 200"):
        split_policy(policy(statement), limit(200), 10)


# ----------------------------------------------------------------------------- shared measuring


def test_validators_measure_with_the_same_functions() -> None:
    assert _documents.deployed_size is sizes.deployed_size
    assert _documents.worst_case is sizes.worst_case
    assert _documents.longest_region is sizes.longest_region
