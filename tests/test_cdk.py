"""The CDK constructs (guardrails.cdk): the example synthesized in-process equals the CloudFormation emitter's
templates, stack by stack, and so does the generated app (output/cdk/app.py) run as the CDK CLI runs it; cdk-nag's
AwsSolutions pack over the synthesized app, every finding acknowledged with a reason (guardrails/data/cdk_nag.yaml)
and no acknowledgment stale; a user extension; errors.

Needs the extra guardrails[cdk] (aws-cdk-lib, constructs, cdk-nag) and Node.js; skipped without them, unless
GUARDRAILS_REQUIRE_CDK is set (for `make test` once the extra is installed: a missing CDK is then a failure).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

# Before aws_cdk starts its Node.js kernel: the jsii package cache (the unpacked aws-cdk-lib, ~200 MB) in the real
# home, not in the fake one each test gets (it would be unpacked again, ~30 s); no end-of-life banner for Node 20.
os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(Path.home() / ".cache" / "aws" / "jsii" / "package-cache"))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

if os.environ.get("GUARDRAILS_REQUIRE_CDK"):
    import aws_cdk as cdk
else:
    cdk = pytest.importorskip("aws_cdk")

from guardrails.cdk import templates  # noqa: E402
from guardrails.diagnostics import BlueprintError  # noqa: E402

# What CDK adds to a template and guardrails does not: none of it grants or changes anything.
CDK_RESOURCES = {"CDKMetadata"}
CDK_CONDITIONS = {"CDKMetadataAvailable"}
CDK_PARAMETERS = {"BootstrapVersion"}
CDK_RULES = {"CheckBootstrapVersion"}
CDK_METADATA_KEYS = {"aws:cdk:path"}


def comparable(template: dict[str, Any]) -> dict[str, Any]:
    """A template without CDK's additions, DependsOn as a set (CloudFormation reads it as one; CDK sorts it)."""
    out = copy.deepcopy(template)
    for section, names in (("Resources", CDK_RESOURCES), ("Conditions", CDK_CONDITIONS),
                           ("Parameters", CDK_PARAMETERS), ("Rules", CDK_RULES)):
        for name in names:
            out.get(section, {}).pop(name, None)
        if section in out and not out[section]:
            del out[section]
    for body in out.get("Resources", {}).values():
        metadata = body.get("Metadata", {})
        for key in CDK_METADATA_KEYS:
            metadata.pop(key, None)
        if "Metadata" in body and not metadata:
            del body["Metadata"]
        if isinstance(body.get("DependsOn"), list):
            body["DependsOn"] = sorted(body["DependsOn"])
        elif isinstance(body.get("DependsOn"), str):
            body["DependsOn"] = [body["DependsOn"]]
    return out


@pytest.fixture(scope="session")
def cdk_example(example_compiled):
    """The example as a GuardrailsApp, synthesized once: (app, GuardrailsApp, assembly)."""
    from guardrails.cdk import GuardrailsApp, new_app

    app = new_app()
    built = GuardrailsApp(app, example_compiled.plan)
    return app, built, app.synth()


def synthesized(stack: Any) -> dict[str, Any]:
    """A stack's synthesized template (stacks in a Stage live in its nested assembly)."""
    return cdk.Stage.of(stack).synth().get_stack_artifact(stack.artifact_id).template


def assert_synthesized_equal(built: Any, files: dict[str, str]) -> None:
    """Each stack of a GuardrailsApp (and each StackSet template) equals the emitter's file for it, and every
    CloudFormation template but the IMPORT stages is one of them."""
    import yaml

    stacks = [*built.entries,
              *((b.stack_template, None, b.node.scope) for b in built.baselines.values()
                if b.stack_template.kind == templates.STACKSET_TEMPLATE)]
    seen = set()
    for found, _region, stack in stacks:
        assert comparable(synthesized(stack)) == comparable(yaml.safe_load(files[found.path])), found.path
        seen.add(found.path)
    assert seen == {p for p in files if p.startswith("cloudformation/") and p.endswith(".yaml")
                    and not p.endswith("-import.yaml")}


def test_every_template_is_synthesized_and_equal(cdk_example, example_compiled):
    assert_synthesized_equal(cdk_example[1], example_compiled.files)


@pytest.mark.parametrize("case", sorted(p.name for p in (Path(__file__).parent / "cases").iterdir()
                                        if (p / "blueprint").is_dir()))
def test_golden_cases_synthesize_equal(case: str) -> None:
    """The golden cases, plan only (their compile is tests/test_golden.py's), against the emitter on that plan."""
    from guardrails.cdk import GuardrailsApp, load_plan, new_app
    from guardrails.emitters import cloudformation
    from guardrails.emitters.cloudformation import identity_center

    plan = load_plan(Path("tests/cases") / case / "blueprint", verify=False).plan
    app = new_app()
    built = GuardrailsApp(app, plan)
    app.synth()
    assert_synthesized_equal(built, {**cloudformation.emit(plan), **identity_center.emit(plan)})


def test_stacks_follow_the_documented_order(cdk_example):
    _, built, _ = cdk_example
    names = [stack.stack_name for stack in built.stacks]
    first = {name: names.index(name) for name in reversed(names)}
    order = ["guardrails-organization", "guardrails-organization-accounts", "guardrails-log-archive",
             "guardrails-organization-security", "guardrails-security-analyzer", "guardrails-stacksets",
             "guardrails-management-baseline", "guardrails-account-security", "guardrails-identity-center"]
    assert [n for n in order if n in first] == sorted((n for n in order if n in first), key=first.__getitem__)
    by_name = {stack.stack_name: stack for stack in built.stacks}
    depends = {d.stack_name for d in by_name["guardrails-stacksets"].dependencies}
    assert "guardrails-security-analyzer" in depends and "guardrails-security-detection" in depends
    # Member baselines are only templates for the StackSets: in a Stage, never a top-level stack.
    assert all(b.node.scope.node.scope is built.stackset_templates for b in built.baselines.values()
               if b.stack_template.kind == templates.STACKSET_TEMPLATE)


def test_typed_l1_constructs_and_attributes(cdk_example):
    from aws_cdk import aws_iam, aws_organizations

    _, built, _ = cdk_example
    prod = built.baselines["workloads-prod"]
    assert prod.roles and all(isinstance(r, aws_iam.CfnRole) for r in prod.roles.values())
    assert all(isinstance(p, aws_iam.CfnManagedPolicy) for p in prod.managed_policies.values())
    assert all(isinstance(u, aws_organizations.CfnOrganizationalUnit) for u in built.organization.units.values())
    assert all(isinstance(p, aws_organizations.CfnPolicy) for p in built.organization.policies.values())
    assert set(built.organization.units) == {u.path for u in built.plan.units if not u.managed_by}


def test_account_baseline_in_a_users_stack_with_an_added_statement(example_compiled):
    """The extension path: a team's stack holds one class's baseline and adds an inline statement to a role."""
    from aws_cdk import aws_iam

    from guardrails.cdk import AccountBaseline, new_app

    app = new_app()
    stack = cdk.Stack(app, "TeamBaseline")
    baseline = AccountBaseline(stack, "Baseline", blueprint=example_compiled.plan, account_class="workloads-prod")
    emitted = baseline.template.template["Resources"]
    # A role that has inline policies already: they stay, the team's comes after them.
    logical, body = next((k, v) for k, v in emitted.items()
                         if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("Policies"))
    role = baseline.roles[body["Properties"]["RoleName"]]
    extra = {"Version": "2012-10-17",
             "Statement": [{"Sid": "TeamExtra", "Effect": "Allow", "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::team-bucket/*"}]}
    role.policies = [*role.policies, aws_iam.CfnRole.PolicyProperty(policy_name="team-extra", policy_document=extra)]
    cdk.Tags.of(baseline).add("team", "payments")
    template = app.synth().get_stack_by_name("TeamBaseline").template
    inline = template["Resources"][logical]["Properties"]["Policies"]
    assert inline == [*body["Properties"]["Policies"], {"PolicyName": "team-extra", "PolicyDocument": extra}]
    assert {"Key": "team", "Value": "payments"} in template["Resources"][logical]["Properties"]["Tags"]


def test_unknown_class_is_a_located_blueprint_error(example_compiled):
    from guardrails.cdk import AccountBaseline, new_app

    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(BlueprintError) as caught:
        AccountBaseline(stack, "B", blueprint=example_compiled.plan, account_class="no-such-class")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "GR301" and "workloads-prod" in diagnostic.message and diagnostic.location


def test_bad_blueprint_directory_raises_blueprint_error(tmp_path):
    from guardrails.cdk import AccountBaseline, new_app

    (tmp_path / "organization.yaml").write_text("organization: {name: x, unknown_key: 1}\n", encoding="utf-8")
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(BlueprintError) as caught:
        AccountBaseline(stack, "B", blueprint=tmp_path, account_class="anything", verify=False)
    assert all(d.location is not None for d in caught.value.diagnostics)


def test_multi_stack_constructs_refuse_a_stack_scope(example_compiled):
    from guardrails.cdk import OrganizationGuardrails, new_app

    with pytest.raises(TypeError, match="own stacks"):
        OrganizationGuardrails(cdk.Stack(new_app(), "S"), "Org", blueprint=example_compiled.plan)


def _cdk_nag() -> Any:
    if os.environ.get("GUARDRAILS_REQUIRE_CDK"):
        import cdk_nag

        return cdk_nag
    return pytest.importorskip("cdk_nag")


def validation_violations(outdir: Path) -> list[tuple[str, str]]:
    """(rule, construct path) of each violation left in CDK's validation report (none when nothing failed)."""
    import json

    report = outdir / "validation-report.json"
    if not report.exists():
        return []
    data = json.loads(report.read_text(encoding="utf-8"))
    return [(v["ruleName"], c["constructPath"]) for plugin in data["pluginReports"] for v in plugin["violations"]
            for c in v["violatingConstructs"]]


def test_cdk_nag_findings_are_all_acknowledged_with_reasons(example_compiled, tmp_path):
    """cdk-nag 3's AwsSolutions pack over the whole app: every finding is covered by an entry of
    guardrails/data/cdk_nag.yaml (synthesis passes, nothing left in the report), every entry covers at least one
    finding (no stale acknowledgment), and the acknowledgments leave the templates alone."""
    _cdk_nag()
    import yaml

    from guardrails.cdk import GuardrailsApp, add_cdk_nag, new_app
    from guardrails.cdk.nag import describe

    app = new_app(outdir=str(tmp_path))
    built = GuardrailsApp(app, example_compiled.plan)
    found = add_cdk_nag(app, example_compiled.plan)
    assert not found.unmatched and not found.unused, describe(found)
    assert found.count > 2000  # the pack ran: ~2,100 findings on the example, mostly IAM5 on job functions
    assembly = app.synth()  # raises on any unacknowledged finding
    assert validation_violations(tmp_path) == []
    stack = next(s for s in built.stacks if s.stack_name == "guardrails-log-archive")
    assert comparable(assembly.get_stack_artifact(stack.artifact_id).template) == comparable(
        yaml.safe_load(example_compiled.files["cloudformation/log-archive.yaml"]))


def test_cdk_nag_acknowledgments_do_not_cover_what_a_team_adds(example_compiled):
    """A wildcard written in CDK code is not the compiler's compaction, and "*" on an action that has resource
    types is not unscoped: both stay findings."""
    _cdk_nag()
    from aws_cdk import aws_iam

    from guardrails.cdk import AccountBaseline, acknowledge_findings, new_app

    app = new_app()
    stack = cdk.Stack(app, "TeamBaseline")
    baseline = AccountBaseline(stack, "Baseline", blueprint=example_compiled.plan, account_class="workloads-dev")
    policy = baseline.managed_policies["guardrails-developer-1"]
    document = cdk.Stack.of(policy).resolve(policy.policy_document)
    document["Statement"].append({"Sid": "TeamWildcard", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    policy.policy_document = document
    role = baseline.resources["PasswordPolicyFunctionRole"]
    role.policies = [*role.policies, aws_iam.CfnRole.PolicyProperty(policy_name="team", policy_document={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})]
    found = acknowledge_findings(app, example_compiled.plan)
    left = {(f.rule_name, f.logical_id) for f in found.unmatched}
    assert left == {("AwsSolutions-IAM5[Action::s3:*]", "PolicyJobDeveloper1"),
                    ("AwsSolutions-IAM5[Resource::*]", "PolicyJobDeveloper1"),
                    ("AwsSolutions-IAM5[Resource::*]", "PasswordPolicyFunctionRole")}


def test_cdk_nag_data_file_entries_are_complete():
    from guardrails.cdk.nag import NagDataError, load_entries

    entries = load_entries()
    assert entries and all(e.reason and e.templates and e.resource_types for e in entries)
    assert all(e.rule.startswith("AwsSolutions-") for e in entries)
    for broken in ("- {rule: AwsSolutions-S1, templates: [x], resource_types: [y]}\n",  # no reason
                   "- {rule: R, templates: [x], resource_types: [y], reason: r, scope: everything}\n",
                   "- {rule: R, templates: [x], resource_types: [y], reason: r, require: trust-me}\n"):
        with pytest.raises(NagDataError):
            load_entries(broken)


def test_emitted_cdk_app_synthesizes_the_cloudformation_output(cdk_example, example_compiled, tmp_path):
    """output/cdk/ as `guardrails build` writes it, next to a copy of the blueprint (repo/blueprints and
    repo/output/cdk), run as the CDK CLI runs it (python3 app.py, the assembly in $CDK_OUTDIR; the CLI itself is not
    needed): every template it synthesizes equals output/cloudformation/'s."""
    import json
    import shutil
    import subprocess
    import sys

    import yaml

    from .conftest import ROOT

    shutil.copytree(ROOT / "blueprints", tmp_path / "blueprints")
    app_dir = tmp_path / "output" / "cdk"
    app_dir.mkdir(parents=True)
    emitted = {p: t for p, t in example_compiled.files.items() if p.startswith("cdk/")}
    assert set(emitted) == {"cdk/app.py", "cdk/cdk.json", "cdk/README.md"}
    for path, text in emitted.items():
        (tmp_path / "output" / path).write_text(text, encoding="utf-8")
    settings = json.loads(emitted["cdk/cdk.json"])
    assert settings["app"] == "python3 app.py" and settings["versionReporting"] is False
    outdir = tmp_path / "cdk.out"
    env = {**os.environ, "CDK_OUTDIR": str(outdir)}
    env.pop("CDK_CONTEXT_JSON", None)
    run = subprocess.run([sys.executable, "app.py"], cwd=app_dir, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]

    def templates_of(directory: Path) -> dict[str, dict[str, Any]]:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        out = {}
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] == "aws:cloudformation:stack":
                template = directory / artifact["properties"]["templateFile"]
                out[artifact_id] = json.loads(template.read_text(encoding="utf-8"))
            elif artifact["type"] == "cdk:cloud-assembly":
                out.update(templates_of(directory / artifact["properties"]["directoryName"]))
        return out

    synthesized_templates = templates_of(outdir)
    _, built, _ = cdk_example
    expected = {stack.artifact_id: found.path for found, _region, stack in built.entries}
    expected.update({b.node.scope.artifact_id: b.stack_template.path for b in built.baselines.values()
                     if b.stack_template.kind == templates.STACKSET_TEMPLATE})
    assert set(synthesized_templates) == set(expected)
    for artifact_id, path in expected.items():
        assert comparable(synthesized_templates[artifact_id]) == comparable(
            yaml.safe_load(example_compiled.files[path])), path


def test_cdk_app_files_are_deterministic(example_compiled):
    from guardrails.emitters import cdk_app

    first = cdk_app.emit(example_compiled.plan)
    assert first == cdk_app.emit(example_compiled.plan)
    assert all(text.count("Generated by guardrails from blueprints.") == 1 for text in first.values())
    assert all(str(Path.cwd()) not in text for text in first.values())  # no machine-specific path
