"""Issue 17: the CloudFormation quotas a large organization reaches are predicted by `guardrails check` (located
GR304, before anything is emitted), and the organization stack splits its OUs and exports so that 300 OUs and
5,000 accounts compile within every quota."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails import pipeline
from guardrails.blueprint import load_blueprint
from guardrails.diagnostics import BlueprintError
from guardrails.emitters.cloudformation.organization import OU_PARTS, ou_parts, render
from guardrails.emitters.cloudformation.organization_accounts import accounts_body, build_accounts, chunks
from guardrails.emitters.cloudformation.organization_limits import estimate, problems
from guardrails.emitters.cloudformation.render import dump
from guardrails.model import build_model
from guardrails.pipeline import Compiled
from guardrails.policies import limits as limits_module
from guardrails.policies.ir import Plan
from guardrails.policies.synthesize import synthesize

from .bench import synthetic_blueprint
from .conftest import ROOT

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _large(directory: Path) -> Plan:
    """tests/bench.py's 5,000-account organization (100 top-level OUs of two OUs each: 300 OUs), with a handful of
    identities: the organization stacks grow with OUs and accounts, not with roles."""
    content = synthetic_blueprint(5000)
    identity = content["identity.yaml"]
    for section in ("job_functions", "groups", "roles"):
        identity[section] = dict(list(identity[section].items())[:3])
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in content.items():
        (directory / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return synthesize(build_model(load_blueprint(directory)))


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, dict[str, str]]:
    plan = _large(tmp_path_factory.mktemp("scale") / "blueprint")
    return plan, render(plan)


def _imports(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"Fn::ImportValue"}:
            return {node["Fn::ImportValue"]}
        return set().union(*(_imports(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_imports(v) for v in node)) if node else set()
    return set()


def test_300_ous_and_5000_accounts_split_within_every_quota(large: tuple[Plan, dict[str, str]]) -> None:
    plan, files = large
    assert len(plan.units) >= 300 and len([a for a in plan.accounts if not a.management]) == 5000
    templates = {path: yaml.load(text, Loader=_LOADER) for path, text in files.items() if path.endswith(".yaml")}
    organization = sorted((p for p in templates if p == "cloudformation/organization.yaml" or OU_PARTS in p),
                          key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0]) if OU_PARTS in p else 1)
    assert len(organization) >= 2, "300 OUs need more than one organization stack (200 outputs per template)"
    exported: dict[str, int] = {}  # export name → the organization part that declares it
    for index, path in enumerate(organization):
        for output in templates[path].get("Outputs", {}).values():
            if "Export" in output:
                assert output["Export"]["Name"] not in exported
                exported[output["Export"]["Name"]] = index
    assert len(exported) == len([u for u in plan.units if not u.managed_by])
    for index, path in enumerate(organization):  # a parent's export comes from an earlier part
        assert all(exported[name] < index for name in _imports(templates[path]["Resources"])), path
    for path, body in templates.items():
        text = files[path]
        assert len(body["Resources"]) <= plan.limits["cfn_resources_per_template"].value, path
        assert len(body.get("Outputs", {})) <= plan.limits["cfn_outputs_per_template"].value, path
        assert len(body.get("Parameters", {})) <= plan.limits["cfn_parameters_per_template"].value, path
        assert len(text.encode()) <= plan.limits["cfn_template_body_bytes"].value, path  # every one deploys inline
        assert _imports(body) <= set(exported), f"{path} imports an export no organization stack declares"
        assert "deploy it from S3" not in text, path


def test_the_prediction_matches_the_templates(large: tuple[Plan, dict[str, str]]) -> None:
    plan, files = large
    assert problems(plan) == []
    predicted = {t.path: t for t in estimate(plan)}
    emitted = {p for p in files if p.endswith(".yaml") and not p.endswith("-import.yaml")}
    # The prediction reads the emitter's own parts and chunks: the same templates, accounts stacks included.
    assert set(predicted) == emitted
    for path, t in predicted.items():
        body = yaml.load(files[path], Loader=_LOADER)
        assert t.resources == len(body["Resources"]) and t.outputs == len(body.get("Outputs", {})), path
        assert t.parameters == len(body.get("Parameters", {})), path
        assert t.bytes >= len(files[path].encode()), path


def test_parts_are_deterministic_and_keep_ous_with_their_scps(large: tuple[Plan, dict[str, str]]) -> None:
    plan, _ = large
    parts = ou_parts(plan)
    assert [p.units for p in parts] == [p.units for p in ou_parts(dataclasses.replace(plan))]  # not the cached one
    flat = [u for p in parts for u in p.units]
    assert flat == sorted(flat, key=lambda u: tuple(u.split("/")))  # consecutive runs in path order
    for part in parts:
        for resource in part.resources.values():
            if resource["Type"] == "AWS::Organizations::Policy":
                target = resource["Properties"]["TargetIds"][0]
                assert "Fn::ImportValue" not in target  # Ref of an OU in the same stack, or the root


def test_accounts_templates_reuse_the_measured_text(large: tuple[Plan, dict[str, str]]) -> None:
    """The accounts stacks are written from the resources' text the split rendered to measure them: exactly the
    template's YAML."""
    plan, _ = large
    found = chunks(plan)
    assert len(found) > 1
    for chunk in found:
        template = build_accounts(plan, chunk)
        assert accounts_body(template, chunk) == dump(template), chunk.stem


def test_an_unsplittable_limit_is_a_located_error_before_emitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports are per account and Region: no split helps. `check` names the OU that tips it, and emits nothing."""
    real = limits_module.default_limits()
    exports = dataclasses.replace(real["cfn_exports_per_region"], value=3)
    monkeypatch.setattr(limits_module, "default_limits", lambda: {**real, "cfn_exports_per_region": exports})

    def never(*_: Any) -> Any:
        raise AssertionError("emitted although a limit is exceeded")

    monkeypatch.setattr(pipeline, "emit_all", never)
    started = time.perf_counter()
    with pytest.raises(BlueprintError) as raised:
        pipeline.compile_blueprint(ROOT / "blueprints", run_tests=False)
    took = time.perf_counter() - started
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "GR304" and "exports" in diagnostic.message and "export 4" in diagnostic.message
    assert diagnostic.location is not None and diagnostic.location.file.endswith("organization.yaml")
    assert diagnostic.location.line > 1 and diagnostic.hint
    assert took < 30


def test_stacksets_over_the_resource_limit_is_predicted(example_compiled: Compiled) -> None:
    plan = example_compiled.plan
    limit = dataclasses.replace(plan.limits["cfn_resources_per_template"], value=5)
    found = problems(dataclasses.replace(plan, limits={**plan.limits, "cfn_resources_per_template": limit}))
    assert any("stacksets.yaml" in p.message and "baseline class" in p.message for p in found)


def test_the_example_keeps_one_organization_template(example_compiled: Compiled) -> None:
    files = example_compiled.files
    assert "cloudformation/organization.yaml" in files
    assert not [p for p in files if OU_PARTS in p]
    assert [t.path for t in estimate(example_compiled.plan) if "organization.yaml" in t.path] == [
        "cloudformation/organization.yaml"]
    assert problems(example_compiled.plan) == []
