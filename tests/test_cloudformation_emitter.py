"""The CloudFormation emitter: layout, determinism, placeholders, exact grants, the three management-account stacks
(OUs, accounts in chunks, StackSets), StackSet targeting, the password-policy custom resource, imports, limits, and
(slow) cfn-lint over every emitted template, a 1,000-account organization included."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from guardrails.blueprint import load_blueprint
from guardrails.emitters import header_text
from guardrails.emitters.cloudformation import CloudFormationLimitError, emit
from guardrails.emitters.cloudformation import password_policy as pp
from guardrails.emitters.cloudformation.baseline import render_baseline
from guardrails.emitters.cloudformation.organization import ACCOUNTS_PER_STACK, export_names
from guardrails.emitters.cloudformation.render import sub, unsub
from guardrails.model import build_model
from guardrails.policies.ir import OrgUnit, Plan, PolicyDocument, ServiceControlPolicy, Statement
from guardrails.policies.synthesize import synthesize
from guardrails.validators.cfn_templates import deployed_by_url
from guardrails.pipeline import Compiled

from .bench import synthetic_blueprint
from .conftest import ROOT

EXAMPLE = Path("blueprints")
FEDERATION = Path("tests/cases/federation/blueprint")  # GovCloud, imports, SAML, existing OIDC, ${aws:username}


def _plan(directory: Path) -> Plan:
    return synthesize(build_model(load_blueprint(directory)))


@pytest.fixture(scope="module")
def example(example_compiled: Compiled) -> Plan:
    return example_compiled.plan


@pytest.fixture(scope="module")
def federation() -> Plan:
    return _plan(ROOT / FEDERATION)


@pytest.fixture(scope="module")
def example_files(example: Plan) -> dict[str, str]:
    return emit(example)


def _synthetic(directory: Path, accounts: int) -> Plan:
    """tests/bench.py's synthetic organization of that many accounts, written as a blueprint and compiled."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in synthetic_blueprint(accounts).items():
        (directory / name).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return _plan(directory)


def _with_limit(plan: Plan, key: str, value: int) -> Plan:
    return dataclasses.replace(plan, limits={**plan.limits, key: dataclasses.replace(plan.limits[key], value=value)})


ORGANIZATION = "cloudformation/organization.yaml"
ACCOUNTS = "cloudformation/organization-accounts.yaml"
STACKSETS = "cloudformation/stacksets.yaml"


# Any YAML parser reads the templates: no CloudFormation short-form tags. (libyaml only speeds up the tests.)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _templates(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every emitted YAML template, parsed by a plain YAML parser."""
    return {path: yaml.load(text, Loader=_LOADER) for path, text in files.items() if path.endswith(".yaml")}


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def _management_stacks(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """organization.yaml, the accounts stack(s) and stacksets.yaml (not the import stages), parsed."""
    return {p: t for p, t in _templates(files).items()
            if p == ORGANIZATION or p == STACKSETS or (p.startswith("cloudformation/organization-accounts")
                                                     and not p.endswith("-import.yaml"))}


def _all_resources(files: dict[str, str], type_: str) -> dict[str, dict[str, Any]]:
    """Resources of one type across the management-account stacks; a logical id is never in two of them."""
    found: dict[str, dict[str, Any]] = {}
    for template in _management_stacks(files).values():
        resources = _resources(template, type_)
        assert not set(resources) & set(found)
        found.update(resources)
    return found


def _is_management(plan: Plan, key: str) -> bool:
    cls = next(c for c in plan.classes if c.key == key)
    return any(plan.account(a).management for a in cls.accounts)


def _baseline_path(plan: Plan, key: str) -> str:
    if _is_management(plan, key):
        return "cloudformation/management-baseline.yaml"
    return f"cloudformation/baseline-{key}.yaml"


# ----------------------------------------------------------------------------- layout and determinism


def test_files_and_headers(example: Plan, example_files: dict[str, str]) -> None:
    files = example_files
    expected = {ORGANIZATION, ACCOUNTS, STACKSETS} | {_baseline_path(example, c.key) for c in example.classes}
    # the security baseline (blueprint `security`) has its own templates and tests
    security = {"cloudformation/account-security.yaml", "cloudformation/log-archive.yaml",
                "cloudformation/organization-security.yaml", "cloudformation/security-analyzer.yaml",
                "cloudformation/security-detection.yaml"}
    assert set(files) == expected | security
    assert "cloudformation/management-baseline.yaml" in files
    for path, text in files.items():
        assert text.startswith(f"# {header_text(example)}\n"), path
        assert "/work/" not in text and str(ROOT) not in text, f"{path} holds an absolute path"
    for order, path in enumerate((ORGANIZATION, ACCOUNTS, STACKSETS), start=1):
        header = files[path].split("AWSTemplateFormatVersion")[0]
        assert f"# Stack {order} of 3 (guardrails-{Path(path).stem})." in header, path
        assert "1. organization.yaml  2. organization-accounts.yaml  3. stacksets.yaml" in header, path
        assert f"--template-file {Path(path).name}" in header, path
        assert not deployed_by_url(path), f"{path} is deployed inline: the validator must hold it to the body limit"
    for path, template in _templates(files).items():
        assert template["AWSTemplateFormatVersion"] == "2010-09-09"
        assert len(template["Resources"]) <= example.limits["cfn_resources_per_template"].value, path


def test_output_is_deterministic(example: Plan, example_files: dict[str, str]) -> None:
    first = example_files
    assert emit(example) == first
    assert emit(_plan(ROOT / EXAMPLE)) == first  # a freshly built plan, not just the same object


def test_output_is_identical_across_hash_seeds() -> None:
    script = ("import json, sys; from pathlib import Path; from guardrails.blueprint import load_blueprint; "
              "from guardrails.model import build_model; from guardrails.policies.synthesize import synthesize; "
              "from guardrails.emitters.cloudformation import emit; "
              "sys.stdout.write(json.dumps(emit(synthesize(build_model(load_blueprint(Path('blueprints')))))))")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout
               for seed in ("0", "1", "4242")}
    assert len(outputs) == 1


def test_long_strings_are_not_folded(example: Plan) -> None:
    description = "A long description: " + " ".join(f"word{i}" for i in range(60))  # ~430 characters
    plan = dataclasses.replace(example, scps=(dataclasses.replace(example.scps[0], description=description),
                                              *example.scps[1:]))
    text = emit(plan)["cloudformation/organization.yaml"]
    assert any(line.strip() == f"Description: '{description}'" for line in text.splitlines())  # one line


# ----------------------------------------------------------------------------- placeholders


def test_sub_renders_placeholders_and_escapes_policy_variables() -> None:
    assert sub("arn:aws:s3:::bucket/*") == "arn:aws:s3:::bucket/*"
    assert sub("arn:aws:iam::*:user/${aws:username}") == "arn:aws:iam::*:user/${aws:username}"  # no Sub, no escape
    assert sub("arn:aws:iam::${account_id}:role/x") == {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/x"}
    assert sub("arn:aws:logs:${region}:${account_id}:*") == {
        "Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:*"}
    assert sub("arn:aws:s3:::b-${account_id}/home/${aws:username}/*") == {
        "Fn::Sub": "arn:aws:s3:::b-${AWS::AccountId}/home/${!aws:username}/*"}
    # With the partition known, ARNs inside Fn::Sub use ${AWS::Partition}; plain strings stay as they are.
    assert sub("arn:aws-cn:iam::${account_id}:role/x", "aws-cn") == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}
    assert sub("arn:aws-cn:iam::aws:policy/ReadOnlyAccess", "aws-cn") == "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"


@given(st.lists(st.sampled_from(["${account_id}", "${region}", "${aws:username}", "${aws:PrincipalTag/team}", "${",
                                 "}", "$", "!", "arn:aws:iam::", "/", "a", "*"]), max_size=12).map("".join))
def test_sub_round_trips(text: str) -> None:
    assert unsub(sub(text)) == text
    assert unsub(sub(text, "aws"), "aws") == text


def test_policy_variables_in_emitted_templates(federation: Plan) -> None:
    """The federation case has `${aws:username}` beside `${account_id}` (Fn::Sub) and alone (plain string)."""
    text = emit(federation)["cloudformation/baseline-app.yaml"]
    assert "Fn::Sub: arn:${AWS::Partition}:s3:::shared-${AWS::AccountId}/home/${!aws:username}/*" in text
    assert "s3:prefix: home/${aws:username}/*" in text


# ----------------------------------------------------------------------------- CloudFormation grants exactly the IR


def _policy_names(template: dict[str, Any]) -> dict[str, str]:
    """Logical id → ManagedPolicyName, to resolve `Ref`s in ManagedPolicyArns/PermissionsBoundary."""
    return {k: v["Properties"]["ManagedPolicyName"] for k, v in _resources(template, "AWS::IAM::ManagedPolicy").items()}


def _attached(values: list[Any], names: dict[str, str], plan: Plan) -> list[str]:
    prefix = f"arn:{plan.org.partition}:iam::aws:policy/"
    return [f"local:{names[v['Ref']]}" if isinstance(v, dict) else f"aws:{v.removeprefix(prefix)}" for v in values]


def _ir_attached(refs: Any, by_key: dict[str, str]) -> list[str]:
    return [f"local:{by_key[r.name]}" if r.kind == "local" else f"aws:{r.name}" for r in refs]


@pytest.mark.parametrize("case", [EXAMPLE, FEDERATION])
def test_every_document_round_trips_to_the_ir(case: Path) -> None:
    plan = _plan(ROOT / case)
    templates = _templates(emit(plan))
    partition = plan.org.partition
    for cls in plan.classes:
        template = templates[_baseline_path(plan, cls.key)]
        names = _policy_names(template)
        by_key = {p.key: p.name for p in cls.baseline.managed_policies}

        emitted_policies = {v["Properties"]["ManagedPolicyName"]: v["Properties"]
                            for v in _resources(template, "AWS::IAM::ManagedPolicy").values()}
        assert set(emitted_policies) == {p.name for p in cls.baseline.managed_policies}
        for policy in cls.baseline.managed_policies:
            props = emitted_policies[policy.name]
            assert unsub(props["PolicyDocument"], partition) == policy.document.to_json(), (cls.key, policy.name)
            assert (props["Path"], props.get("Description", "")) == (policy.path, policy.description)

        roles = {v["Properties"]["RoleName"]: v["Properties"] for v in _resources(template, "AWS::IAM::Role").values()
                 if "RoleName" in v["Properties"]}
        assert set(roles) == {r.name for r in cls.baseline.roles}
        for role in cls.baseline.roles:
            props = roles[role.name]
            assert unsub(props["AssumeRolePolicyDocument"], partition) == role.trust.to_json(), (cls.key, role.name)
            assert _attached(props.get("ManagedPolicyArns", []), names, plan) == _ir_attached(role.policies, by_key)
            boundary = props.get("PermissionsBoundary")
            assert (_attached([boundary], names, plan) if boundary else []) == _ir_attached(
                [role.boundary] if role.boundary else [], by_key)
            inline = {p["PolicyName"]: unsub(p["PolicyDocument"], partition) for p in props.get("Policies", [])}
            assert inline == {name: doc.to_json() for name, doc in role.inline_policies}
            assert props["MaxSessionDuration"] == role.max_session_duration
            assert [(t["Key"], t["Value"]) for t in props.get("Tags", [])] == list(role.tags)

        groups = {v["Properties"]["GroupName"]: v["Properties"]
                  for v in _resources(template, "AWS::IAM::Group").values()}
        assert set(groups) == {g.name for g in cls.baseline.groups}
        for group in cls.baseline.groups:
            assert _attached(groups[group.name].get("ManagedPolicyArns", []), names, plan) == _ir_attached(
                group.policies, by_key)

        group_ids = {k: v["Properties"]["GroupName"] for k, v in _resources(template, "AWS::IAM::Group").items()}
        users = {v["Properties"]["UserName"]: v["Properties"] for v in _resources(template, "AWS::IAM::User").values()}
        group_names = {g.key: g.name for g in cls.baseline.groups}
        assert set(users) == {u.name for u in cls.baseline.users}
        for user in cls.baseline.users:
            props = users[user.name]
            assert [group_ids[g["Ref"]] for g in props.get("Groups", [])] == [group_names[g] for g in user.groups]
            assert not {"LoginProfile", "Policies", "ManagedPolicyArns"} & set(props), "access through groups only"
        assert not _resources(template, "AWS::IAM::AccessKey")

    # Every SCP exactly once, in the organization stack (root and OUs) or an accounts stack (accounts).
    scps = {v["Properties"]["Name"]: v["Properties"]
            for v in _all_resources(emit(plan), "AWS::Organizations::Policy").values()}
    assert len(scps) == len(plan.scps) + len(plan.rcps)
    assert set(scps) == {s.name for s in (*plan.scps, *plan.rcps)}
    for scp in (*plan.scps, *plan.rcps):
        assert scps[scp.name]["Content"] == scp.document.to_json(), scp.name  # never Fn::Sub: plain strings only
        assert scps[scp.name]["Type"] == scp.policy_type


def test_scp_targets(example: Plan) -> None:
    """Root and OU SCPs live with the OUs; an account's SCP lives with the account and Refs it."""
    on_account = dataclasses.replace(example.scps[1], key="app_prod_extra", name="app-prod-extra",
                                     target="account:app-prod")
    templates = _templates(emit(dataclasses.replace(example, scps=(*example.scps, on_account))))

    def targets(path: str) -> dict[str, Any]:
        return {v["Properties"]["Name"]: v["Properties"]["TargetIds"]
                for v in _resources(templates[path], "AWS::Organizations::Policy").values()}

    assert targets(ORGANIZATION) == {"guardrails-root": [{"Ref": "RootId"}],
                                     "guardrails-root-2": [{"Ref": "RootId"}],
                                     "guardrails-rcp-root": [{"Ref": "RootId"}],
                                     "guardrails-ou-workloads": [{"Ref": "OuWorkloads"}],
                                     "guardrails-rcp-ou-workloads": [{"Ref": "OuWorkloads"}],
                                     "workloads-deny-expensive-instances": [{"Ref": "OuWorkloads"}],
                                     "guardrails-ou-quarantine": [{"Ref": "OuQuarantine"}]}
    assert targets(ACCOUNTS) == {"app-prod-extra": [{"Ref": "AccountAppProd"}],
                                 "guardrails-account-log-archive": [{"Ref": "AccountLogArchive"}]}


def test_scp_with_a_per_account_placeholder_is_refused(example: Plan) -> None:
    bad = dataclasses.replace(example.scps[0], document=PolicyDocument(
        (Statement("X", "Deny", actions=("s3:*",), resources=("arn:aws:s3:::b-${account_id}",)),)))
    with pytest.raises(ValueError, match="account_id"):
        emit(dataclasses.replace(example, scps=(bad,)))


# ----------------------------------------------------------------------------- management-account stacks


def test_three_stacks_hold_their_parts(example_files: dict[str, str]) -> None:
    types = {path: {v["Type"] for v in template["Resources"].values()}
             for path, template in _management_stacks(example_files).items()}
    assert types == {ORGANIZATION: {"AWS::Organizations::OrganizationalUnit", "AWS::Organizations::Policy"},
                     # SCPs attached to accounts live with the accounts they target (log-archive here)
                     ACCOUNTS: {"AWS::Organizations::Account", "AWS::Organizations::Policy"},
                     STACKSETS: {"AWS::CloudFormation::StackSet"}}


def test_ous_and_accounts_are_retained(example: Plan, example_files: dict[str, str]) -> None:
    templates = _templates(example_files)
    ous = _resources(templates[ORGANIZATION], "AWS::Organizations::OrganizationalUnit")
    accounts = _resources(templates[ACCOUNTS], "AWS::Organizations::Account")
    assert len(ous) == len(example.units)
    assert {a["Properties"]["AccountName"] for a in accounts.values()} == {
        a.name for a in example.accounts if not a.management}
    for resource in [*ous.values(), *accounts.values()]:
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    assert ous["OuWorkloadsProd"]["Properties"]["ParentId"] == {"Ref": "OuWorkloads"}
    assert ous["OuWorkloads"]["Properties"]["ParentId"] == {"Ref": "RootId"}
    assert accounts["AccountAppProd"]["Properties"]["ParentIds"] == [
        {"Fn::ImportValue": "guardrails-example-ou-workloads-prod"}]  # exported by organization.yaml
    params = templates[ORGANIZATION]["Parameters"]
    assert params["OrganizationId"]["Default"] == example.org.org_id
    assert params["RootId"]["Default"] == example.org.root_id
    assert "BaselineTemplateBaseUrl" not in params
    assert "Default" not in templates[STACKSETS]["Parameters"]["BaselineTemplateBaseUrl"]


def test_every_ou_id_is_exported(example: Plan, example_files: dict[str, str]) -> None:
    outputs = _templates(example_files)[ORGANIZATION]["Outputs"]
    exported = {o["Value"]["Ref"]: o["Export"]["Name"] for o in outputs.values() if "Export" in o}
    assert exported == {"OuSecurity": "guardrails-example-ou-security",
                        "OuInfrastructure": "guardrails-example-ou-infrastructure",
                        "OuWorkloads": "guardrails-example-ou-workloads",
                        "OuWorkloadsProd": "guardrails-example-ou-workloads-prod",
                        "OuWorkloadsDev": "guardrails-example-ou-workloads-dev",
                        "OuSandbox": "guardrails-example-ou-sandbox",
                        "OuQuarantine": "guardrails-example-ou-quarantine"}
    assert outputs["OrganizationId"] == {"Description": "The organization this stack manages.",
                                         "Value": {"Ref": "OrganizationId"}}


def test_export_names_are_unique_and_valid(example: Plan) -> None:
    """Paths with the same slug, or none, or one too long for 255 characters, still get distinct valid names."""
    long = "/".join(["L" * 120] * 3)
    units = (*example.units, OrgUnit("Workloads-Prod", "Workloads-Prod", ""), OrgUnit("Ünïts", "Ünïts", ""),
             OrgUnit(long, "L" * 120, "/".join(["L" * 120] * 2)))
    names = export_names(dataclasses.replace(example, units=units))
    assert names["Workloads-Prod"] == "guardrails-example-ou-workloads-prod"  # sorts before Workloads/Prod
    assert names["Workloads/Prod"].startswith("guardrails-example-ou-workloads-prod-")
    assert len(set(names.values())) == len(names)
    for name in names.values():
        assert len(name) <= 255 and all(c.isascii() and (c.isalnum() or c in ":-") for c in name), name
    assert export_names(dataclasses.replace(example, units=units)) == names


def _stacksets(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    template = _templates({"o.yaml": files[STACKSETS]})["o.yaml"]
    return {v["Properties"]["StackSetName"].removeprefix("guardrails-baseline-"): v
            for v in _resources(template, "AWS::CloudFormation::StackSet").values()}


def test_one_stackset_per_member_class(example: Plan, example_files: dict[str, str]) -> None:
    stacksets = _stacksets(example_files)
    stacksets.pop("guardrails-account-security")  # the security baseline's StackSet (tests/test_security_cloudformation.py)
    assert set(stacksets) == {c.key for c in example.classes if not _is_management(example, c.key)}
    for key, stackset in stacksets.items():
        props = stackset["Properties"]
        assert props["PermissionModel"] == "SERVICE_MANAGED"
        assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
        assert props["CallAs"] == "SELF"
        assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
        assert props["TemplateURL"] == {"Fn::Sub": f"${{BaselineTemplateBaseUrl}}/baseline-{key}.yaml"}
        assert props["ManagedExecution"] == {"Active": True}
        assert [g["Regions"] for g in props["StackInstancesGroup"]] == [[example.org.home_region]]
        # The accounts live in the accounts stack, deployed before this one: nothing to depend on here.
        assert "DependsOn" not in stackset


def test_stackset_targets_whole_ous(example: Plan, example_files: dict[str, str]) -> None:
    cls = next(c for c in example.classes if c.key == "workloads-prod")
    assert cls.whole_units == ("Workloads/Prod",)
    stackset = _stacksets(example_files)["workloads-prod"]
    targets = stackset["Properties"]["StackInstancesGroup"][0]["DeploymentTargets"]
    assert targets == {"OrganizationalUnitIds": [{"Fn::ImportValue": "guardrails-example-ou-workloads-prod"}],
                       "AccountFilterType": "NONE"}


def test_stackset_targets_accounts_within_their_ous(example: Plan, example_files: dict[str, str]) -> None:
    """audit and log-archive share the Security OU but not a baseline: each class names its accounts."""
    stacksets = _stacksets(example_files)
    for key in ("audit", "log-archive"):
        targets = stacksets[key]["Properties"]["StackInstancesGroup"][0]["DeploymentTargets"]
        # The account is in another stack: it is named by id.
        assert targets == {"OrganizationalUnitIds": [{"Fn::ImportValue": "guardrails-example-ou-security"}],
                           "Accounts": [example.account(key).id], "AccountFilterType": "INTERSECTION"}


def test_stacksets_header_orders_the_deployment(example_files: dict[str, str]) -> None:
    header = example_files[STACKSETS].split("AWSTemplateFormatVersion")[0]
    assert "Deploy it last" in header and "no DependsOn can order them" in header
    assert "--parameter-overrides BaselineTemplateBaseUrl=" in header


def test_no_import_files_when_nothing_exists(example: Plan, example_files: dict[str, str]) -> None:
    assert not [p for p in example_files if "import" in p]


def _existing(example: Plan) -> Plan:
    units = tuple(dataclasses.replace(u, existing_id="ou-ab12-security1") if u.path == "Security" else u
                  for u in example.units)
    accounts = tuple(dataclasses.replace(a, existing=True) if a.name in ("audit", "app-prod") else a
                     for a in example.accounts)
    return dataclasses.replace(example, units=units, accounts=accounts)


def test_import_of_existing_ous_and_accounts(example: Plan) -> None:
    """An existing OU (into the organization stack) and existing accounts (into the accounts stack), one of them
    moving into a new OU: one IMPORT stage per stack, then the update."""
    files = emit(_existing(example))
    assert {p for p in files if "import" in p} == {
        "cloudformation/organization-import.yaml", "cloudformation/organization-import.json",
        "cloudformation/organization-accounts-import.yaml", "cloudformation/organization-accounts-import.json"}
    assert json.loads(files["cloudformation/organization-import.json"]) == [
        {"ResourceType": "AWS::Organizations::OrganizationalUnit", "LogicalResourceId": "OuSecurity",
         "ResourceIdentifier": {"Id": "ou-ab12-security1"}}]
    assert json.loads(files["cloudformation/organization-accounts-import.json"]) == [
        {"ResourceType": "AWS::Organizations::Account", "LogicalResourceId": "AccountAudit",
         "ResourceIdentifier": {"AccountId": "200000000002"}},
        {"ResourceType": "AWS::Organizations::Account", "LogicalResourceId": "AccountAppProd",
         "ResourceIdentifier": {"AccountId": "400000000001"}},
    ]
    stage = yaml.safe_load(files["cloudformation/organization-import.yaml"])
    assert set(stage["Resources"]) == {"OuSecurity"}  # nothing new, no outputs
    assert "Outputs" not in stage
    assert stage["Resources"]["OuSecurity"]["Properties"]["ParentId"] == {"Ref": "RootId"}
    stage = yaml.safe_load(files["cloudformation/organization-accounts-import.yaml"])
    assert set(stage["Resources"]) == {"AccountAudit", "AccountAppProd"}
    assert "Outputs" not in stage and "Parameters" not in stage  # RootId is unused there
    assert stage["Resources"]["AccountAudit"]["Properties"]["ParentIds"] == [
        {"Fn::ImportValue": "guardrails-example-ou-security"}]
    assert "ParentIds" not in stage["Resources"]["AccountAppProd"]["Properties"]  # the update moves it
    for path, stem in ((ORGANIZATION, "organization"), (ACCOUNTS, "organization-accounts")):
        header = files[path].split("AWSTemplateFormatVersion")[0]
        assert "--change-set-type IMPORT" in header
        assert f"--stack-name guardrails-{stem} " in header
        assert f"file://{stem}-import.yaml" in header and f"file://{stem}-import.json" in header
    assert "IMPORT" not in files[STACKSETS]


def test_import_into_the_accounts_chunk_that_holds_the_account(example: Plan) -> None:
    files = emit(_with_limit(_existing(example), "cfn_template_body_bytes", 1000))  # one account per chunk
    chunks = sorted(p for p in files if p.startswith("cloudformation/organization-accounts-")
                    and not p.endswith(("-import.yaml", "-import.json")))
    assert len(chunks) == len([a for a in example.accounts if not a.management])
    imports = {p for p in files if p.startswith("cloudformation/organization-accounts") and "import" in p}
    holders = [p for p in chunks if "AccountAudit:" in files[p] or "AccountAppProd:" in files[p]]
    assert imports == {p.replace(".yaml", suffix) for p in holders for suffix in ("-import.yaml", "-import.json")}
    for path in holders:
        (entry,) = json.loads(files[path.replace(".yaml", "-import.json")])
        assert entry["LogicalResourceId"] in yaml.safe_load(files[path])["Resources"]


def test_govcloud_refers_to_accounts_by_id(federation: Plan) -> None:
    """AWS::Organizations::Account does not exist in GovCloud: accounts are referred to by id."""
    files = emit(federation)
    assert not _all_resources(files, "AWS::Organizations::Account")
    app_scp = next(v for v in _resources(yaml.safe_load(files[ACCOUNTS]), "AWS::Organizations::Policy").values()
                   if v["Properties"]["Name"] == "app-deny-public-s3")
    assert app_scp["Properties"]["TargetIds"] == [federation.account("app").id]
    assert [r["ResourceType"] for r in json.loads(files["cloudformation/organization-import.json"])] == [
        "AWS::Organizations::OrganizationalUnit"]
    assert not [p for p in files if p.startswith("cloudformation/organization-accounts-import")]
    assert "app (345678901234) -> Apps" in files[ORGANIZATION].split("AWSTemplateFormatVersion")[0]


# ----------------------------------------------------------------------------- accounts split into chunks


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return _synthetic(tmp_path_factory.mktemp("hundred"), 100)


def _chunk_paths(files: dict[str, str]) -> list[str]:
    paths = [p for p in files if p.startswith("cloudformation/organization-accounts") and "import" not in p]
    return sorted(paths, key=lambda p: int(p.removesuffix(".yaml").rsplit("-", 1)[1]) if p != ACCOUNTS else 0)


def test_accounts_fit_one_stack_when_they_can(hundred: Plan) -> None:
    files = emit(hundred)
    assert _chunk_paths(files) == [ACCOUNTS]
    assert len(yaml.safe_load(files[ACCOUNTS])["Resources"]) == len(hundred.accounts) - 1


def test_accounts_are_chunked_deterministically(hundred: Plan) -> None:
    """Chunks are runs of the accounts sorted by OU path then name; an account's SCPs stay with it."""
    extra = ServiceControlPolicy("acct_0040_extra", "acct-0040-extra", "", hundred.scps[0].document,
                                 "account:acct-0040")
    plan = _with_limit(dataclasses.replace(hundred, scps=(*hundred.scps, extra)), "cfn_resources_per_template", 40)
    files = emit(plan)
    paths = _chunk_paths(files)
    assert paths == [f"cloudformation/organization-accounts-{n}.yaml" for n in (1, 2, 3)]
    assert ACCOUNTS not in files
    order: list[str] = []
    for path in paths:
        template = yaml.safe_load(files[path])
        assert len(template["Resources"]) <= 40, path
        names = [r["Properties"]["AccountName"] for r in _resources(template, "AWS::Organizations::Account").values()]
        assert len(names) <= ACCOUNTS_PER_STACK
        order += names
        for scp in _resources(template, "AWS::Organizations::Policy").values():
            (target,) = scp["Properties"]["TargetIds"]
            assert target["Ref"] in template["Resources"], "an account's SCP sits in the account's stack"
    members = [a for a in plan.accounts if not a.management]
    assert order == [a.name for a in sorted(members, key=lambda a: (a.unit, a.name))]
    assert emit(_with_limit(dataclasses.replace(hundred, scps=(*hundred.scps, extra)),
                            "cfn_resources_per_template", 40)) == files
    header = files[paths[1]].split("AWSTemplateFormatVersion")[0]
    assert "Stack 2 of 3 (guardrails-organization-accounts-2)" in header and "Part 2 of 3" in header
    assert "2. organization-accounts-1.yaml … organization-accounts-3.yaml" in header


def test_accounts_are_chunked_within_the_inline_body_size(hundred: Plan) -> None:
    """Chunks also fit an inline template body; where the blueprint was compiled from (named in the header) does not
    move accounts between stacks."""
    plan = _with_limit(hundred, "cfn_template_body_bytes", 12_000)
    files = emit(plan)
    paths = _chunk_paths(files)
    assert len(paths) > 2
    assert all(len(files[p].encode()) <= 12_000 for p in paths)
    elsewhere = emit(dataclasses.replace(plan, blueprint="/".join(["a-much-longer-directory"] * 20)))
    assert _chunk_paths(elsewhere) == paths
    for path in paths:
        assert yaml.safe_load(elsewhere[path])["Resources"] == yaml.safe_load(files[path])["Resources"]


# ----------------------------------------------------------------------------- baselines


def test_existing_identity_providers_are_not_created(federation: Plan) -> None:
    template = _templates(emit(federation))["cloudformation/baseline-app.yaml"]
    assert not _resources(template, "AWS::IAM::OIDCProvider")  # gitlab is marked existing
    saml = _resources(template, "AWS::IAM::SAMLProvider")
    assert [v["Properties"]["Name"] for v in saml.values()] == ["corp"]
    reader = next(v for v in _resources(template, "AWS::IAM::Role").values()
                  if v["Properties"].get("RoleName") == "FederatedReader")
    assert reader["DependsOn"] == list(saml)  # the trust names the provider by ARN only


def test_instance_profiles(example: Plan, example_files: dict[str, str]) -> None:
    template = _templates(example_files)["cloudformation/baseline-workloads-prod.yaml"]
    profiles = _resources(template, "AWS::IAM::InstanceProfile")
    assert [(p["Properties"]["InstanceProfileName"], p["Properties"]["Path"]) for p in profiles.values()] == [
        ("AppInstance", "/workload/")]


def test_password_policy_function_role_allows_only_that_action(example: Plan, example_files: dict[str, str]) -> None:
    for path, template in _templates(example_files).items():
        if "baseline" not in path:
            continue
        role = template["Resources"][pp.ROLE_ID]["Properties"]
        assert "ManagedPolicyArns" not in role and "PermissionsBoundary" not in role
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s for s in statements)
        by_action = {a: s["Resource"] for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                                    else s["Action"])}
        assert by_action == {"iam:UpdateAccountPasswordPolicy": "*",
                             "logs:CreateLogStream": {"Fn::GetAtt": [pp.LOG_GROUP_ID, "Arn"]},
                             "logs:PutLogEvents": {"Fn::GetAtt": [pp.LOG_GROUP_ID, "Arn"]}}, path


def test_password_policy_resource_passes_every_field(example: Plan, example_files: dict[str, str]) -> None:
    template = _templates(example_files)["cloudformation/baseline-audit.yaml"]
    policy = next(c for c in example.classes if c.key == "audit").baseline.password_policy
    assert policy is not None
    resource = template["Resources"][pp.RESOURCE_ID]
    assert resource["Type"] == "Custom::PasswordPolicy"
    props = resource["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": [pp.FUNCTION_ID, "Arn"]}
    assert {k: v for k, v in props.items() if k not in ("ServiceToken", "ServiceTimeout")} == {
        "MinimumPasswordLength": policy.minimum_length, "RequireSymbols": policy.require_symbols,
        "RequireNumbers": policy.require_numbers, "RequireUppercaseCharacters": policy.require_uppercase,
        "RequireLowercaseCharacters": policy.require_lowercase,
        "AllowUsersToChangePassword": policy.allow_users_to_change, "MaxPasswordAge": policy.max_age,
        "PasswordReusePrevention": policy.reuse_prevention, "HardExpiry": policy.hard_expiry}
    function = template["Resources"][pp.FUNCTION_ID]["Properties"]
    assert function["Runtime"] in ("python3.12", "python3.13")
    assert "import cfnresponse" in function["Code"]["ZipFile"]
    assert len(function["Code"]["ZipFile"]) <= 4096  # inline ZipFile code limit


class _FakeIam:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def update_account_password_policy(self, **kwargs: Any) -> None:
        if self.fail:
            raise RuntimeError("AccessDenied")
        self.calls.append(kwargs)


def _run_handler(request: str, props: dict[str, str], iam: _FakeIam) -> list[tuple[str, str, str | None]]:
    """Run the inline handler with stand-ins for boto3 and cfnresponse (properties arrive as strings)."""
    sent: list[tuple[str, str, str | None]] = []
    boto3 = types.SimpleNamespace(client=lambda name: iam)
    cfnresponse = types.SimpleNamespace(
        SUCCESS="SUCCESS", FAILED="FAILED",
        send=lambda event, context, status, data, physical_id, reason=None: sent.append((status, physical_id, reason)))
    saved = {name: sys.modules.get(name) for name in ("boto3", "cfnresponse")}
    sys.modules.update(boto3=boto3, cfnresponse=cfnresponse)  # type: ignore[arg-type]
    try:
        namespace: dict[str, Any] = {}
        exec(compile(pp.HANDLER, "index.py", "exec"), namespace)  # noqa: S102 - our own generated code
        namespace["handler"]({"RequestType": request, "ResourceProperties": props}, None)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return sent


CIS_PROPS = {"ServiceToken": "arn", "MinimumPasswordLength": "14", "RequireSymbols": "true", "RequireNumbers": "true",
             "RequireUppercaseCharacters": "true", "RequireLowercaseCharacters": "false",
             "AllowUsersToChangePassword": "true", "MaxPasswordAge": "90", "PasswordReusePrevention": "24",
             "HardExpiry": "false"}


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_handler_sets_every_field(request_type: str) -> None:
    iam = _FakeIam()
    sent = _run_handler(request_type, CIS_PROPS, iam)
    assert iam.calls == [{"MinimumPasswordLength": 14, "RequireSymbols": True, "RequireNumbers": True,
                          "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": False,
                          "AllowUsersToChangePassword": True, "HardExpiry": False, "MaxPasswordAge": 90,
                          "PasswordReusePrevention": 24}]
    assert [s[:2] for s in sent] == [("SUCCESS", pp.PHYSICAL_ID)]


def test_handler_omits_zero_meaning_never() -> None:
    iam = _FakeIam()
    _run_handler("Create", {**CIS_PROPS, "MaxPasswordAge": "0", "PasswordReusePrevention": "0"}, iam)
    assert "MaxPasswordAge" not in iam.calls[0] and "PasswordReusePrevention" not in iam.calls[0]


def test_handler_leaves_the_policy_on_delete() -> None:
    iam = _FakeIam()
    sent = _run_handler("Delete", CIS_PROPS, iam)
    assert iam.calls == []
    assert sent[0][0] == "SUCCESS" and "left in place" in (sent[0][2] or "")


def test_handler_reports_failures() -> None:
    sent = _run_handler("Create", CIS_PROPS, _FakeIam(fail=True))
    assert sent == [("FAILED", pp.PHYSICAL_ID, "AccessDenied")]


# ----------------------------------------------------------------------------- limits


def test_too_many_resources_is_a_clear_error(example: Plan) -> None:
    # The organization stack splits its OUs over more stacks (tests/test_scale_limits.py); the StackSet stack cannot.
    with pytest.raises(CloudFormationLimitError, match=r"^cloudformation/stacksets.yaml: the StackSet stack "
                       r"\(one StackSet per member-account baseline class\) holds 7 resources; CloudFormation "
                       r"allows 5 per template .*Give more accounts the same baseline"):
        emit(_with_limit(example, "cfn_resources_per_template", 5))


def test_too_big_a_baseline_is_a_clear_error(example: Plan) -> None:
    cls = next(c for c in example.classes if c.key == "audit")
    with pytest.raises(CloudFormationLimitError, match=r"^cloudformation/baseline-audit.yaml: the baseline class "
                       r"'audit' holds \d+ resources; CloudFormation allows 10 per template .*Deploy fewer roles"):
        render_baseline(_with_limit(example, "cfn_resources_per_template", 10), cls, management=False)


def test_oversized_inline_template_gets_a_deploy_note(example: Plan) -> None:
    limit = dataclasses.replace(example.limits["cfn_template_body_bytes"], value=1000)
    files = emit(dataclasses.replace(example, limits={**example.limits, "cfn_template_body_bytes": limit}))
    assert "--s3-bucket" in files["cloudformation/management-baseline.yaml"]
    assert "--s3-bucket" in files[ORGANIZATION] and "--s3-bucket" in files[STACKSETS]
    assert "--s3-bucket" not in files["cloudformation/baseline-audit.yaml"]  # StackSets read from S3 anyway


# ----------------------------------------------------------------------------- external validators (slow)


@pytest.mark.slow
def test_cfn_lint_reports_nothing() -> None:
    """0 errors and 0 warnings on every template of the example and of the GovCloud federation case, linted in one
    runner (building the rule set once costs ~1 s; each template then takes tens of milliseconds)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import Runner

    findings: list[str] = []
    runners: dict[str, Runner] = {}
    for case in (EXAMPLE, FEDERATION):
        plan = _plan(ROOT / case)
        region = plan.org.home_region
        if region not in runners:
            runners[region] = Runner(ConfigMixIn(cli_args=[], regions=[region]))
        for path, text in emit(plan).items():
            if not path.endswith(".yaml"):
                continue
            template, errors = decode_str(text)
            assert not errors, (path, errors)
            for match in runners[region].validate_template(template):
                if match.rule.severity in ("error", "warning"):
                    findings.append(f"{case}/{path}:{match.linenumber} {match.rule.id} {match.message}")
    assert not findings, "\n".join(findings)


@pytest.mark.slow
def test_a_thousand_accounts_deploy_in_stacks_within_the_limits(tmp_path: Path) -> None:
    """tests/bench.py's 1,000-account organization: every template within 500 resources (and the inline ones within
    the inline body size), every account in exactly one accounts stack, and cfn-lint clean (one call)."""
    from guardrails.validators.cfn_lint import lint_templates
    from guardrails.validators.cfn_templates import check_templates

    plan = _synthetic(tmp_path / "blueprint", 1000)
    files = emit(plan)
    templates = {p: t for p, t in files.items() if p.endswith(".yaml")}
    limit = plan.limits["cfn_resources_per_template"].value
    counts = {p: len(t["Resources"]) for p, t in _templates(templates).items()}
    assert all(n <= limit for n in counts.values()), counts
    assert counts[ORGANIZATION] == len(plan.units) + len(plan.scps)  # no SCP on an account here
    assert counts[STACKSETS] == len(plan.classes) - 1
    chunks = _chunk_paths(files)
    assert len(chunks) > 1 and chunks[0] == "cloudformation/organization-accounts-1.yaml"
    assert sum(counts[p] for p in chunks) == len(plan.accounts) - 1
    assert check_templates(templates, plan.limits) == []  # GR506: inline templates within 51,200 bytes too
    findings = lint_templates(templates, [plan.org.home_region])
    assert not findings, "\n".join(str(f) for f in findings)


def test_blueprint_accepted_findings_become_checkov_skips(example: Plan) -> None:
    cls = next(c for c in example.classes if c.key == "audit")
    policy = dataclasses.replace(cls.baseline.managed_policies[0],
                                 accepted_findings=(("CKV_AWS_999", "Accepted by the blueprint owner for a test."),))
    baseline = dataclasses.replace(cls.baseline, managed_policies=(policy, *cls.baseline.managed_policies[1:]))
    plan = dataclasses.replace(example, classes=tuple(dataclasses.replace(c, baseline=baseline) if c is cls else c
                                                      for c in example.classes))
    template = _templates(emit(plan))["cloudformation/baseline-audit.yaml"]
    metadata = next(v.get("Metadata", {}) for v in _resources(template, "AWS::IAM::ManagedPolicy").values()
                    if v["Properties"]["ManagedPolicyName"] == policy.name)
    skip = {"id": "CKV_AWS_999", "comment": "Accepted by the blueprint owner for a test."}
    assert skip in metadata["checkov"]["skip"]


def test_suppressions_render_as_resource_metadata(example_files: dict[str, str]) -> None:
    template = _templates(example_files)["cloudformation/baseline-audit.yaml"]
    skips = template["Resources"][pp.FUNCTION_ID]["Metadata"]["checkov"]["skip"]
    assert {s["id"] for s in skips} >= {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}
    assert all(len(s["comment"]) > 40 for s in skips)  # a reason a reviewer can judge, not a bare id
    assert "Metadata" not in template["Resources"]["RoleAuditor"]  # nothing where nothing is suppressed
