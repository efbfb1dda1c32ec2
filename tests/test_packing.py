"""Quota-aware packing of guardrails into SCPs/RCPs: sizes, slots, merging, stability, the slot map."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.diagnostics import BlueprintError
from guardrails.pipeline import compile_blueprint
from guardrails.policies.ir import Condition, Statement
from guardrails.policies.packing import PackingError, Unit, lower_bound, merge_statements, pack, size_of

from .conftest import ROOT


def unit(name: str, actions: int, *, resource: str = "*", condition: str | None = None) -> Unit:
    conditions = (Condition("StringEquals", "aws:RequestedRegion", (condition,)),) if condition else ()
    statement = Statement(f"Deny{name.title().replace('-', '')}", "Deny",
                          actions=tuple(f"ec2:Action{name.title().replace('-', '')}{i:03d}" for i in range(actions)),
                          resources=(resource,), conditions=conditions)
    return Unit(name, (statement,))


def test_everything_that_fits_goes_into_one_policy() -> None:
    units = [unit(f"g{i}", 5) for i in range(5)]
    packed = pack("root", units, limit=10_240, slots=8)
    assert packed.count == 1 and not packed.merged
    assert [u.guardrail for u in packed.policies[0][0]] == ["g0", "g1", "g2", "g3", "g4"]  # id order, stable


def test_every_policy_is_within_the_limit_and_near_the_lower_bound() -> None:
    units = [unit(f"g{i:02d}", 20 + (i * 7) % 30) for i in range(30)]
    limit = 4_000
    packed = pack("ou:Big", units, limit=limit, slots=10)
    assert all(len(document.render(minified=True)) <= limit for _, document in packed.policies)
    assert sorted(u.guardrail for members, _ in packed.policies for u in members) == sorted(u.guardrail for u in units)
    assert lower_bound(units, limit) <= packed.count <= lower_bound(units, limit) + 1


@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=25))
def test_packing_is_complete_sized_and_bounded(sizes: list[int]) -> None:
    units = [unit(f"g{i:02d}", n) for i, n in enumerate(sizes)]
    limit = 3_000
    packed = pack("t", units, limit=limit, slots=len(units))
    assert all(len(document.render(minified=True)) <= limit for _, document in packed.policies)
    assert sum(len(members) for members, _ in packed.policies) == len(units)
    # First fit never leaves two policies that together would fit in one.
    sizes_packed = [len(document.render(minified=True)) for _, document in packed.policies]
    assert packed.count <= 2 * lower_bound(units, limit) + 1 or len(sizes_packed) == 1


def test_statements_merge_only_when_the_slots_require_it() -> None:
    # Same effect, resource and condition: their actions can be united without changing the meaning.
    units = [unit(f"g{i}", 2, condition="us-east-1") for i in range(4)]
    one_each = max(size_of([u]) for u in units)
    roomy = pack("root", units, limit=one_each * 2, slots=4)
    assert not roomy.merged and roomy.count == 2
    tight = pack("root", units, limit=one_each * 2, slots=1)
    assert tight.merged and tight.count == 1
    (statement,) = tight.policies[0][1].statements
    assert len(statement.actions) == 8 and statement.conditions == units[0].statements[0].conditions


def test_different_terms_never_merge() -> None:
    a = unit("a", 3, condition="us-east-1")
    b = unit("b", 3, condition="eu-west-1")
    c = unit("c", 3, resource="arn:aws:ec2:*:*:instance/*", condition="us-east-1")
    assert len(merge_statements([s for u in (a, b, c) for s in u.statements])) == 3
    not_action = Statement("N", "Deny", not_actions=("iam:*",), resources=("*",))
    assert len(merge_statements([not_action, not_action])) == 2  # NotAction lists do not combine by union


def test_overflow_is_an_error_with_the_slot_map() -> None:
    units = [unit(f"g{i}", 40) for i in range(6)]
    limit = size_of(units[:2]) + 5
    with pytest.raises(PackingError) as caught:
        pack("ou:Workloads", units, limit=limit, slots=2)
    assert "ou:Workloads: its guardrails need 3 SCPs" in str(caught.value) and "only 2 slot(s)" in str(caught.value)
    assert [row.guardrails for row in caught.value.slot_map] == [("g0", "g1"), ("g2", "g3"), ("g4", "g5")]
    assert all(row.chars <= limit for row in caught.value.slot_map)


def test_a_guardrail_larger_than_a_policy_is_named() -> None:
    with pytest.raises(PackingError, match="guardrail huge alone is .* over the 1000-character limit"):
        pack("root", [unit("huge", 200)], limit=1_000, slots=5)


def test_adding_a_guardrail_changes_few_policies() -> None:
    units = [unit(f"g{i:02d}", 30) for i in range(12)]
    limit = size_of(units[:4]) + 10
    before = pack("root", units, limit=limit, slots=9)
    after = pack("root", [*units, unit("g99", 30)], limit=limit, slots=9)
    changed = [i for i, (b, a) in enumerate(zip(before.policies, after.policies)) if b[1] != a[1]]
    assert changed == [] and after.count == before.count + 1  # the new one lands in a new last policy
    middle = pack("root", [*units, unit("g05x", 5)], limit=limit, slots=9)
    rewritten = sum(1 for b, a in zip(before.policies, middle.policies) if b[1] != a[1])
    assert rewritten <= 2


def copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", target)
    return target


def test_the_example_root_guardrails_fit_one_scp() -> None:
    plan = compile_blueprint(ROOT / "blueprints", run_tests=False).plan
    roots = [s for s in plan.scps if s.target == "root"]
    assert [s.guardrails for s in roots] == [
        ("deny-iam-users-except-tagged", "deny-leave-organization", "deny-password-policy-changes",
         "deny-root-access-keys", "deny-root-user", "keep-ebs-default-encryption", "keep-s3-block-public-access",
         "protect-boundaries", "protect-guardrail-roles", "region-restriction"),
        ("protect-security-services",)]  # issue 13 (M6, H1): too large to share the first SCP
    assert all(not s.merged and len(s.document.render(minified=True)) <= 10_240 for s in roots)
    [rcp] = [r for r in plan.rcps if r.target == "root"]
    assert rcp.guardrails == ("data-perimeter-confused-deputy", "data-perimeter-identity", "enforce-secure-transport")
    # issue 13 (C2): the Workloads OU admits GitHub tokens of the workloads repository only
    assert [(r.target, r.guardrails) for r in plan.rcps if r.target != "root"] == [
        ("ou:Workloads", ("data-perimeter-oidc-tenants",))]


def test_a_blueprint_that_cannot_fit_gets_a_located_slot_map(tmp_path: Path) -> None:
    blueprint = copy_example(tmp_path)
    (blueprint / "limits.yaml").write_text("limits: {scp_chars: 6000, scps_per_target: 3}\n", encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, run_tests=False)
    diagnostic = next(d for d in caught.value.diagnostics if d.message.startswith("root:"))
    assert diagnostic.code == "GR304" and diagnostic.message.startswith("root: its guardrails need")
    assert "slot map of root (3 SCPs per target: 1 default full-access policy, 0 explicit, 0 reserved, 1 kept free" \
        in diagnostic.hint
    assert diagnostic.location is not None and diagnostic.location.file.endswith("organization.yaml")


def test_reserved_slots_count(tmp_path: Path) -> None:
    blueprint = copy_example(tmp_path)
    text = (blueprint / "organization.yaml").read_text(encoding="utf-8")
    text = text.replace("  guardrails:                        # attached at the root\n",
                        "  policy_slots: {reserved_scps: 8}\n  guardrails:                        # attached at the root\n")
    (blueprint / "organization.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, run_tests=False)
    assert "only 0 slot(s) are free" in caught.value.diagnostics[0].message
    assert "8 reserved" in caught.value.diagnostics[0].hint


def test_the_whole_catalog_attached_to_one_ou_compiles_within_the_quotas(tmp_path: Path) -> None:
    """The issue's "done when": every catalog guardrail on one OU fits, SCPs and RCPs, within AWS's quotas."""
    from guardrails.model.catalog import load_catalog

    blueprint = copy_example(tmp_path)
    catalog = load_catalog()
    text = (blueprint / "organization.yaml").read_text(encoding="utf-8")
    everything = "".join(f"        - {gid}\n" for gid in sorted(catalog))
    text = text.replace("    Sandbox:\n      accounts:\n", "    Sandbox:\n      guardrails:\n" + everything + "      accounts:\n")
    (blueprint / "organization.yaml").write_text(text, encoding="utf-8")
    plan = compile_blueprint(blueprint, run_tests=False).plan
    scps = [p for p in plan.scps if p.target == "ou:Sandbox"]
    rcps = [p for p in plan.rcps if p.target == "ou:Sandbox"]
    assert {g for p in scps for g in p.guardrails} == {g for g, e in catalog.items() if e.kind == "scp"}
    assert {g for p in rcps for g in p.guardrails} == {g for g, e in catalog.items() if e.kind == "rcp"}
    assert all(len(p.document.render(minified=True)) <= plan.limits["scp_chars"].value for p in scps)
    assert all(len(p.document.render(minified=True)) <= plan.limits["rcp_chars"].value for p in rcps)
    assert len(scps) <= 2 and len(rcps) == 1
    assert all(p.policy_type == "RESOURCE_CONTROL_POLICY" and p.name == "guardrails-rcp-ou-sandbox" for p in rcps)


def test_rcps_have_the_same_content_in_terraform_and_cloudformation(tmp_path: Path) -> None:
    import json

    import hcl2
    import yaml

    blueprint = copy_example(tmp_path)
    text = (blueprint / "organization.yaml").read_text(encoding="utf-8")
    text = text.replace("    Sandbox:\n      accounts:\n",
                        "    Sandbox:\n      guardrails: [data-perimeter-identity, enforce-secure-transport]\n"
                        "      accounts:\n")
    (blueprint / "organization.yaml").write_text(text, encoding="utf-8")
    compiled = compile_blueprint(blueprint, run_tests=False)
    (rcp,) = [r for r in compiled.plan.rcps if r.target == "ou:Sandbox"]
    expected = rcp.document.to_json()
    assert json.loads(compiled.files[f"policies/rcp/{rcp.name}.json"]) == expected

    template = yaml.safe_load(compiled.files["cloudformation/organization.yaml"])
    (resource,) = [r for r in template["Resources"].values()
                   if r["Type"] == "AWS::Organizations::Policy" and r["Properties"]["Name"] == rcp.name]
    assert resource["Properties"]["Type"] == "RESOURCE_CONTROL_POLICY"
    assert resource["Properties"]["Content"] == expected

    scps_tf = compiled.files["terraform/organization/scps.tf"]
    assert 'type = "RESOURCE_CONTROL_POLICY"' in " ".join(scps_tf.split())
    parsed = hcl2.loads(scps_tf)
    # python-hcl2 8 keeps the quotes of strings and block labels.
    documents = [d for block in parsed["data"] for kind, d in block.items() if kind.strip('"') == "aws_iam_policy_document"]
    sids = {s["sid"].strip('"') for d in documents for body in d.values() for s in body["statement"]}
    assert {s["Sid"] for s in expected["Statement"]} <= sids
    assert '"RESOURCE_CONTROL_POLICY"' in compiled.files["terraform/organization/organization.tf"]
