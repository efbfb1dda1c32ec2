"""The catalog of preventive guardrails (guardrails/data/catalog/): every entry loads, names only actions and
condition keys that exist, compiles into grammatical policies within AWS's size limits, exempts break-glass and
deployment wherever a Deny could lock them out, and keeps its tag-based exceptions unforgeable; the loader
rejects entries that break those rules; the model stage checks a blueprint's parameter values with locations;
docs/catalog.md is generated from the catalog."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails.blueprint.loader import load_blueprint
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError
from guardrails.model import catalog as cat
from guardrails.model.build import build_model
from guardrails.pipeline import compile_blueprint
from guardrails.policies import names
from guardrails.iam.actions import iam_database
from guardrails.policies.ir import Condition, OrgInfo, PolicyDocument, Statement
from guardrails.policies.packing import Unit, pack
from guardrails.policies.synthesize import convert_statement, privileged_role_names
from guardrails.validators.own_checks import check_plan, grammar_problems

from .conftest import ROOT

CATALOG = cat.load_catalog()
INFO = OrgInfo(name="example", partition="aws", org_id="o-exampleorg1", root_id="r-ex01", existing=True,
               home_region="eu-west-1", allowed_regions=("eu-central-1", "eu-west-1"),
               deployment_role="OrganizationAccountAccessRole",
               management_deployment_role="GuardrailsManagementDeployer",
               deployment_principals=("OrganizationAccountAccessRole", "stacksets-exec-*", "GuardrailsCIDeployer"),
               break_glass_role="BreakGlass", break_glass_account="audit")
CONTEXT = {"allowed_regions": INFO.allowed_regions, "privileged_roles": privileged_role_names(INFO),
           "org_id": (INFO.org_id,),
           "boundary_policies": ("arn:${partition}:iam::*:policy/guardrails/GuardrailsWorkloadBoundary",)}
EXEMPTION = Condition("ArnNotLike", "aws:PrincipalArn",
                      tuple(sorted(f"arn:aws:iam::*:role/{n}" for n in privileged_role_names(INFO))))
LIMITS = {"scp": 10240, "rcp": 5120}  # guardrails/data/limits.yaml: scp_chars, rcp_chars
# Catalog SCPs one target takes by default: the quota of 5, less FullAWSAccess and the slot kept free for rollouts.
CATALOG_SCP_SLOTS = 3
# RCP statements on web-identity federation only: the OIDC keys are in their request context, as in a trust policy.
_WEB_IDENTITY = {"sts:assumerolewithwebidentity"}

NEW_IDS = {"deny-root-access-keys", "protect-security-services", "deny-iam-users-except-tagged", "require-imdsv2",
           "keep-ebs-default-encryption", "keep-s3-block-public-access", "protect-boundaries",
           "deny-password-policy-changes", "require-mfa-for-sensitive-actions", "data-perimeter-identity",
           "data-perimeter-confused-deputy", "data-perimeter-oidc-tenants", "enforce-secure-transport"}
# Deny statements that need no break-glass/deployment exemption, and why:
NOT_EXEMPT = {
    "deny-leave-organization": "leaving is denied to everyone on purpose, break-glass included",
    "deny-root-user": "matches only the root principal, never a role",
    "deny-root-access-keys": "matches only the root principal, never a role",
    "data-perimeter-identity": "an RCP on resources: the organization's own principals carry its aws:PrincipalOrgID",
    "data-perimeter-confused-deputy": "an RCP matching AWS service principals only (Bool aws:PrincipalIsAWSService)",
    "data-perimeter-oidc-tenants": "an RCP on sts:AssumeRoleWithWebIdentity only: break-glass and the deployment "
                                   "principals are no web identities",
    "enforce-secure-transport": "an RCP on plain-HTTP requests: the SDKs and CLI break-glass and deployment use "
                                "always send HTTPS",
}


def _statements(guardrail: cat.Guardrail, values: dict[str, tuple[str, ...]]) -> list[Statement]:
    """The guardrail's statements as synthesize builds them (exemption included)."""
    out = []
    for template in guardrail.statements:
        statement = convert_statement(cat.expand(template, values), template["sid"], INFO, origin=guardrail.id)
        if guardrail.exempt_privileged:
            statement = Statement(**{**statement.__dict__,
                                     "conditions": tuple(sorted((*statement.conditions, EXEMPTION)))})
        out.append(statement)
    return out


def _variants(guardrail: cat.Guardrail) -> list[dict[str, tuple[str, ...]]]:
    """Defaults, plus every optional parameter switched on, so that conditions that exist only then are checked."""
    defaults = cat.resolve_parameters(guardrail, {}, CONTEXT)
    switched = dict(defaults)
    for name, spec in guardrail.parameters.items():
        if spec.type == "boolean":
            switched[name] = ("true",)
        elif spec.optional and not defaults[name]:
            switched[name] = ("111122223333",) if spec.type == "account_ids" else ("arn:${partition}:iam::*:role/x",)
    return [defaults] if switched == defaults else [defaults, switched]


# ----------------------------------------------------------------------------- the whole catalog


def test_catalog_holds_every_entry_with_its_provenance() -> None:
    assert NEW_IDS <= set(CATALOG)
    assert {"deny-leave-organization", "deny-root-user", "region-restriction",
            "protect-guardrail-roles"} <= set(CATALOG)
    for guardrail in CATALOG.values():
        assert guardrail.kind in ("scp", "rcp"), guardrail.id
        assert guardrail.title and len(guardrail.rationale) > 100, guardrail.id
        assert guardrail.source and guardrail.source_url.startswith("https://"), guardrail.id
        for parameter in guardrail.parameters.values():
            assert parameter.description and parameter.type in cat.TYPES, (guardrail.id, parameter.name)
    assert {g.id for g in CATALOG.values() if g.kind == "rcp"} == {
        "data-perimeter-identity", "data-perimeter-confused-deputy", "data-perimeter-oidc-tenants",
        "enforce-secure-transport"}


@pytest.mark.parametrize("guardrail_id", sorted(CATALOG))
def test_every_action_and_condition_key_exists(guardrail_id: str) -> None:
    guardrail = CATALOG[guardrail_id]
    db = iam_database()
    for values in _variants(guardrail):
        for statement in _statements(guardrail, values):
            for action in (*statement.actions, *statement.not_actions):
                assert action == "*" or db.matches(action), (guardrail_id, action)
            conditions: dict[str, list[str]] = {}
            for condition in statement.conditions:
                conditions.setdefault(condition.operator, []).append(condition.key)
            federated = guardrail.kind == "rcp" and {a.lower() for a in statement.actions} <= _WEB_IDENTITY
            hosts = frozenset(c.key.split(":", 1)[0] for c in statement.conditions) if federated else frozenset()
            problems = names.statement_name_problems(statement.actions, statement.not_actions, conditions,
                                                     trust=federated, idp_hosts=hosts)
            assert problems == [], (guardrail_id, statement.sid, problems)


@pytest.mark.parametrize("guardrail_id", sorted(CATALOG))
def test_every_entry_compiles_grammatically_within_the_size_limit(guardrail_id: str) -> None:
    guardrail = CATALOG[guardrail_id]
    for values in _variants(guardrail):
        statements = _statements(guardrail, values)
        document = PolicyDocument(tuple(statements))
        assert grammar_problems(json.loads(document.render()), trust=False) == [], guardrail_id
        for statement in statements:
            assert statement.effect == "Deny" and (statement.resources or statement.not_resources), guardrail_id
            assert all(c.values for c in statement.conditions), (guardrail_id, statement.sid)
            if guardrail.kind == "rcp":  # RCP grammar: Deny only, no NotAction (Principal "*" is added by synthesize)
                assert not statement.not_actions, guardrail_id
        assert len(document.render(minified=True)) < LIMITS[guardrail.kind], guardrail_id


@pytest.mark.parametrize("guardrail_id", sorted(CATALOG))
def test_documented_json_is_what_synthesize_renders(guardrail_id: str) -> None:
    guardrail = CATALOG[guardrail_id]
    for values in _variants(guardrail):
        rendered = [s.to_json() for s in _statements(guardrail, values)]
        if guardrail.exempt_privileged:
            for statement in rendered:
                del statement["Condition"]["ArnNotLike"]
                if not statement["Condition"]:
                    del statement["Condition"]
        documented = json.loads(json.dumps(cat.policy_json(guardrail, values)["Statement"])
                                .replace("${partition}", "aws"))
        for statement in documented:
            statement.pop("Principal", None)
        assert documented == rendered, guardrail_id


def test_exemptions_are_everywhere_a_deny_could_lock_out_break_glass_or_deployment() -> None:
    assert {g.id for g in CATALOG.values() if not g.exempt_privileged} == set(NOT_EXEMPT)


def test_principal_arn_exemptions_compare_arns_part_by_part() -> None:
    """A String operator on aws:PrincipalArn lets `*` cross the `:` after the account and every `/` of a role
    path (arn:aws:iam::*:role/guardrails/* would match role/workload/x:role/guardrails/y); ARN operators compare
    the six parts one by one (issue 13, H2)."""
    for guardrail in CATALOG.values():
        for template in guardrail.statements:
            for operator, block in (template.get("conditions") or {}).items():
                for key in block:
                    if key.lower() == "aws:principalarn":
                        assert operator.split(":")[-1].startswith("Arn"), (guardrail.id, template["sid"], operator)


def test_all_scp_guardrails_together_fit_the_scp_limit() -> None:
    """The whole SCP catalog at one target, with the example's exemption, packs into the three 10,240-character
    SCPs a target leaves to catalog guardrails by default; the whole RCP catalog fits one 5,120-character RCP."""
    # `quarantine` denies everything to all but the bootstrap path: it goes alone on a quarantine OU, never next to
    # the rest (which it would make moot), so it is left out of the sum; its Sid must still be unique.
    units = [Unit(g.id, tuple(_statements(g, _variants(g)[0]))) for g in CATALOG.values()
             if g.kind == "scp" and g.id != "quarantine"]
    every_sid = [s.sid for g in CATALOG.values() if g.kind == "scp" for s in _statements(g, _variants(g)[0])]
    assert len(set(every_sid)) == len(every_sid), "Sids must be unique across the catalog"
    packed = pack("root", units, limit=LIMITS["scp"], slots=CATALOG_SCP_SLOTS)  # raises PackingError if not
    assert 1 <= len(packed.policies) <= CATALOG_SCP_SLOTS
    rcps = [s for g in CATALOG.values() if g.kind == "rcp" for s in _statements(g, _variants(g)[0])]
    assert len({s.sid for s in rcps}) == len(rcps)
    principal = len('"Principal":"*",')
    assert len(PolicyDocument(tuple(rcps)).render(minified=True)) + principal * len(rcps) < LIMITS["rcp"]


# ----------------------------------------------------------------------------- single entries


def _expanded(guardrail_id: str, given: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    guardrail = CATALOG[guardrail_id]
    values = cat.resolve_parameters(guardrail, given or {}, CONTEXT)
    return [s.to_json() for s in _statements(guardrail, values)]


def test_deny_root_user_is_unchanged_by_default_and_can_let_centralized_root_sessions_through() -> None:
    assert _expanded("deny-root-user") == [{
        "Sid": "DenyRootUser", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]
    allowed = _expanded("deny-root-user", {"allow_centralized_root": True})
    assert allowed[0]["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
                                       "Null": {"aws:AssumedRoot": "true"}}
    assert _expanded("deny-root-user", {"allow_centralized_root": "false"}) == _expanded("deny-root-user")
    with pytest.raises(cat.ParameterError, match="true or false"):
        _expanded("deny-root-user", {"allow_centralized_root": "yes"})


def test_iam_user_exception_tag_is_protected() -> None:
    deny, protect = _expanded("deny-iam-users-except-tagged", {"tag_key": "BreakGlassAdmin", "tag_value": "yes"})
    assert deny["Condition"]["StringNotEquals"] == {"aws:PrincipalTag/BreakGlassAdmin": "yes"}
    assert {"iam:TagUser", "iam:UntagUser", "iam:TagRole", "iam:UntagRole", "sts:TagSession"} <= set(protect["Action"])
    assert protect["Condition"]["ForAnyValue:StringEqualsIgnoreCase"] == {"aws:TagKeys": "BreakGlassAdmin"}
    with pytest.raises(cat.ParameterError, match="takes one value"):
        _expanded("deny-iam-users-except-tagged", {"tag_key": ["a", "b"]})


def test_optional_parameters_switch_their_condition_off() -> None:
    identity = _expanded("data-perimeter-identity")[0]
    assert identity["Condition"]["StringNotEqualsIfExists"] == {"aws:PrincipalOrgID": "o-exampleorg1"}
    trusted = _expanded("data-perimeter-identity", {"trusted_accounts": ["111122223333"]})[0]
    assert trusted["Condition"]["StringNotEqualsIfExists"] == {"aws:PrincipalAccount": "111122223333",
                                                               "aws:PrincipalOrgID": "o-exampleorg1"}
    password = _expanded("deny-password-policy-changes")[0]
    assert password["Condition"]["ArnNotLikeIfExists"] == {
        "aws:PrincipalArn": "arn:aws:iam::*:role/guardrails/*PasswordPolicy*"}
    assert "ArnNotLikeIfExists" not in _expanded("deny-password-policy-changes", {"also_exempt": []})[0]["Condition"]
    findings = next(s for s in _expanded("protect-security-services") if s["Sid"] == "ProtectSecurityFindings")
    assert set(findings["Condition"]) == {"ArnNotLike"}  # no triage accounts: denied to all but the exemption
    with pytest.raises(cat.ParameterError, match="non-empty"):
        _expanded("require-mfa-for-sensitive-actions", {"actions": []})


def test_org_id_and_boundaries_come_from_the_context_with_a_fallback() -> None:
    identity = CATALOG["data-perimeter-identity"]
    assert cat.resolve_parameters(identity, {}, CONTEXT)["org_id"] == ("o-exampleorg1",)
    assert cat.resolve_parameters(identity, {}, {})["org_id"] == ("${org_id}",)  # synthesize substitutes it
    boundaries = CATALOG["protect-boundaries"]
    assert cat.resolve_parameters(boundaries, {}, CONTEXT)["boundary_policies"] == CONTEXT["boundary_policies"]
    assert cat.resolve_parameters(boundaries, {}, {"boundary_policies": ()})["boundary_policies"] == (
        "arn:${partition}:iam::*:policy/guardrails/*",)
    with pytest.raises(cat.ParameterError, match="privileged roles"):
        cat.resolve_parameters(CATALOG["protect-guardrail-roles"], {}, {"privileged_roles": ()})


def test_require_mfa_applies_only_to_principals_that_can_carry_mfa() -> None:
    statement = _expanded("require-mfa-for-sensitive-actions")[0]
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalType": ["FederatedUser", "User"]}
    assert statement["Condition"]["BoolIfExists"] == {"aws:MultiFactorAuthPresent": "false"}
    assert "ec2:TerminateInstances" in statement["Action"] and "iam:DeleteRole" not in statement["Action"]


# ----------------------------------------------------------------------------- the loader's rules


def _raw(guardrail_id: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "guardrails/data/catalog" / f"{guardrail_id}.yaml").read_text(encoding="utf-8"))


def test_loader_rejects_a_tag_exception_without_tag_protection() -> None:
    raw = _raw("deny-iam-users-except-tagged")
    assert cat.parse_entry(copy.deepcopy(raw)).exception_tag == "tag_key"
    unprotected = copy.deepcopy(raw)
    unprotected["statements"] = [s for s in raw["statements"] if s["sid"] != "ProtectIamUserExceptionTag"]
    with pytest.raises(cat.CatalogError, match="needs a tag-protection statement"):
        cat.parse_entry(unprotected)
    no_session_tags = copy.deepcopy(raw)
    no_session_tags["statements"][1]["actions"].remove("sts:TagSession")
    with pytest.raises(cat.CatalogError, match="sts:tagsession"):
        cat.parse_entry(no_session_tags)
    positive = copy.deepcopy(raw)
    positive["statements"][1]["conditions"] = {"StringEquals": {"aws:TagKeys": ["$tag_key"]}}
    with pytest.raises(cat.CatalogError, match="tag-protection"):
        cat.parse_entry(positive)
    undeclared = copy.deepcopy(raw)
    del undeclared["exception_tag"]
    with pytest.raises(cat.CatalogError, match="tag-based exception: declare exception_tag"):
        cat.parse_entry(undeclared)


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw: raw["statements"][0].update(effect="Allow"), "Deny statements"),
    (lambda raw: raw.update(kind="tag"), "kind must be one of"),
    (lambda raw: raw["statements"][0].update(actions=["$nope"]), r"\$nope names no parameter"),
    (lambda raw: raw["statements"][0]["conditions"].update(ArnNotLike={"aws:PrincipalArn": ["x"]}), "overwritten"),
    (lambda raw: raw["parameters"]["also_exempt"].update(type="texts"), "type must be one of"),
    (lambda raw: raw["statements"][0].update(resources=["$also_exempt"]), "only in condition values"),
    (lambda raw: raw["statements"].append(dict(raw["statements"][0])), "used twice"),
    (lambda raw: raw["parameters"].update(unused={"description": "x", "default": ["y"]}), "never used"),
])
def test_loader_rejects_broken_entries(change: Any, message: str) -> None:
    raw = _raw("deny-password-policy-changes")
    change(raw)
    with pytest.raises(cat.CatalogError, match=message):
        cat.parse_entry(raw)


def test_loader_rejects_notaction_in_an_rcp() -> None:
    raw = _raw("data-perimeter-identity")
    raw["statements"][0]["not_actions"] = raw["statements"][0].pop("actions")
    with pytest.raises(cat.CatalogError, match="no NotAction"):
        cat.parse_entry(raw)


# ----------------------------------------------------------------------------- parameter values


def _param(guardrail_id: str, name: str) -> cat.Parameter:
    return CATALOG[guardrail_id].parameters[name]


def test_value_problems_per_type() -> None:
    regions = ["eu-west-1", "us-east-1"]
    assert cat.value_problems(_param("region-restriction", "allowed_regions"), ["eu-west-1", "eu-wset-1"],
                              regions=regions) == [(1, "unknown region 'eu-wset-1'", "did you mean `eu-west-1`?")]
    accounts = {"audit": "200000000002"}
    found = cat.value_problems(_param("data-perimeter-identity", "trusted_accounts"),
                               ["audit", "12345678901", "111122223333", "audti"], accounts=accounts)
    assert found == [
        (0, "'audit' is an account name, not an account id", "did you mean `200000000002` (account audit)?"),
        (1, "account id '12345678901' has 11 digits, not 12",
         "quote account ids in YAML (\"012345678901\"), or leading zeros are lost"),
        (3, "'audti' is not a 12-digit account id", "did you mean `200000000002` (account audit)?")]
    boundaries = _param("protect-boundaries", "boundary_policies")
    found = cat.value_problems(boundaries, ["GuardrailsWorkloadBoundary", "arn:aws-cn:iam::*:policy/x",
                                            "arn:${partition}:iam::${account_id}:policy/x",
                                            "arn:${partition}:iam::*:policy/guardrails/ok", "arn:aws:iam:policy"],
                               partition="aws")
    assert [(i, hint) for i, _, hint in found] == [
        (0, "did you mean `arn:${partition}:iam::*:policy/guardrails/GuardrailsWorkloadBoundary`?"),
        (1, "did you mean `arn:${partition}:iam::*:policy/x`?"),
        (2, "an SCP or RCP is one document for many accounts and regions: use `*`"),
        (4, "an ARN has six parts: arn:${partition}:service:region:account:resource")]
    assert cat.value_problems(_param("data-perimeter-identity", "org_id"), ["o-exampleorg1", "example"]) == [
        (1, "'example' is not an organization id", "organization ids look like o-a1b2c3d4e5")]
    assert cat.value_problems(_param("require-mfa-for-sensitive-actions", "actions"),
                              ["ec2:TerminateInstances", "ec2::DeleteVolume", "terminate"]) == [
        (1, "'ec2::DeleteVolume' is not of the form service:Action", "did you mean `ec2:DeleteVolume`?"),
        (2, "'terminate' is not of the form service:Action", "write service:Action, e.g. `ec2:TerminateInstances`")]


def _example_copy(tmp_path: Path, guardrails_yaml: str, tests_yaml: str = "") -> Path:
    """The example blueprint with extra root guardrails (YAML list items, indented four spaces)."""
    target = tmp_path / "blueprint"
    shutil.copytree(ROOT / "blueprints", target)
    organization = target / "organization.yaml"
    text = organization.read_text(encoding="utf-8")
    # The root list reduced to the four guardrails the expectations below were written against, then the extras.
    start = text.index("  guardrails:                        # attached at the root\n")
    end = text.index("  units:\n", start)
    text = text[:start] + ("  guardrails:                        # attached at the root\n"
                           "    - deny-leave-organization\n    - deny-root-user\n    - region-restriction\n"
                           "    - protect-guardrail-roles\n" + guardrails_yaml
                           # the example's RCPs, which its own access tests rely on
                           + "".join(f"    - {rcp}\n" for rcp in ("data-perimeter-identity", "enforce-secure-transport")
                                     if rcp not in guardrails_yaml)
                           # the example's declared TLS denial of break-glass (the lockout proof tries plain HTTP)
                           + "  intended_denials:\n    enforce-secure-transport: break-glass works over TLS like every "
                             "client of the example\n") + text[end:]
    text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("  # Catalog guardrails"))
    organization.write_text(text, encoding="utf-8")
    if tests_yaml:
        (target / "catalog-tests.yaml").write_text("tests:\n" + tests_yaml, encoding="utf-8")
    return target


def _extra_line(directory: Path, index: int = 0) -> int:
    """The line of the index-th extra root guardrail _example_copy wrote (after the header and the four kept)."""
    lines = (directory / "organization.yaml").read_text(encoding="utf-8").splitlines()
    header = lines.index("  guardrails:                        # attached at the root") + 1
    return header + 5 + index


def test_model_stage_locates_bad_parameter_values(tmp_path: Path) -> None:
    directory = _example_copy(tmp_path, (
        "    - data-perimeter-identity: {trusted_accounts: [audit, \"12345\"], org_id: example}\n"
        "    - protect-boundaries: {boundary_policies: [GuardrailsWorkloadBoundary]}\n"
        "    - require-mfa-for-sensitive-actions: {actions: [\"ec2 TerminateInstances\"]}\n"
        "    - deny-iam-users-except-tagged: {tag_key: [a, b]}\n"
        "    - deny-root-access-keys: {allowed_regions: [eu-west-1]}\n"))
    with pytest.raises(BlueprintError) as raised:
        build_model(load_blueprint(directory))
    rendered = [d.render() for d in raised.value.diagnostics]
    line = [_extra_line(directory, i) for i in range(5)]
    expected = [
        (f"organization.yaml:{line[0]}:52", "GR203", "'audit' is an account name, not an account id (parameter "
         "'trusted_accounts' of 'data-perimeter-identity')", "did you mean `200000000002` (account audit)?"),
        (f"organization.yaml:{line[0]}:59", "GR203", "account id '12345' has 5 digits, not 12", "quote account ids"),
        (f"organization.yaml:{line[0]}:77", "GR203", "'example' is not an organization id", "o-a1b2c3d4e5"),
        (f"organization.yaml:{line[1]}:48", "GR203", "'GuardrailsWorkloadBoundary' is not an ARN",
         "did you mean `arn:${partition}:iam::*:policy/guardrails/GuardrailsWorkloadBoundary`?"),
        (f"organization.yaml:{line[2]}:53", "GR203", "'ec2 TerminateInstances' is not of the form service:Action",
         "did you mean `ec2:TerminateInstances`?"),
        (f"organization.yaml:{line[3]}:38", "GR203",
         "parameter 'tag_key' of 'deny-iam-users-except-tagged' takes one value", ""),
        (f"organization.yaml:{line[4]}:31", "GR203",
         "guardrail 'deny-root-access-keys' has no parameter 'allowed_regions'", "its parameters: none"),
    ]
    assert len(rendered) == len(expected), rendered
    for text, (where, code, message, hint) in zip(rendered, expected, strict=True):
        assert f"{where}: error {code}: {message}" in text and hint in text, text


def test_example_blueprint_with_every_scp_guardrail_keeps_break_glass_and_deployment_working(tmp_path: Path) -> None:
    """Every catalog SCP attached at the root of the example (deny-root-user letting centralized root sessions
    through): the own checks pass, and the access tests prove break-glass still repairs everything the new
    guardrails deny, while the guardrails decide the denials they are there for."""
    extra = "".join(f"    - {g.id}\n" for g in CATALOG.values() if g.kind == "scp" and g.id in NEW_IDS)
    tests = """
  break-glass-repairs-what-the-catalog-protects:
    principal: role/BreakGlass
    account: sandbox-1
    actions: [iam:CreateUser, iam:CreateAccessKey, iam:UpdateAccountPasswordPolicy, s3:PutAccountPublicAccessBlock,
              ec2:DisableEbsEncryptionByDefault, ec2:ModifyInstanceMetadataOptions, config:StopConfigurationRecorder,
              guardduty:DeleteDetector, securityhub:DisableSecurityHub, access-analyzer:DeleteAnalyzer]
    resource: "*"
    expect: allow
  break-glass-repairs-trails-and-boundaries:
    principal: role/BreakGlass
    account: app-prod
    actions: [cloudtrail:StopLogging, iam:CreatePolicyVersion]
    resource: "*"
    expect: allow
  break-glass-may-tag-the-iam-user-exception:
    principal: role/BreakGlass
    account: sandbox-1
    action: iam:TagRole
    resource: "arn:${partition}:iam::${account_id}:role/workload/app-worker"
    context: {aws:TagKeys: [IAMUserManagementException]}
    expect: allow
  admins-cannot-grant-themselves-the-iam-user-exception:
    principal: group/admins
    account: sandbox-1
    action: iam:CreateRole
    resource: "arn:${partition}:iam::${account_id}:role/workload/app-worker"
    context:
      iam:PermissionsBoundary: "arn:${partition}:iam::${account_id}:policy/guardrails/GuardrailsWorkloadBoundary"
      aws:TagKeys: [team, iamusermanagementexception]
    expect: deny
    decided_by: ProtectIamUserExceptionTag
  admins-cannot-change-the-boundary-policy:
    principal: group/admins
    account: app-prod
    action: iam:CreatePolicyVersion
    resource: "arn:${partition}:iam::${account_id}:policy/guardrails/GuardrailsWorkloadBoundary"
    expect: deny
    decided_by: ProtectBoundaryPolicies
  centralized-root-sessions-get-through:
    principal: root-session/S3UnlockBucketPolicy
    account: sandbox-1
    action: s3:DeleteBucketPolicy
    resource: "arn:${partition}:s3:::locked-bucket"
    expect: allow
  centralized-root-sessions-create-no-access-keys:
    principal: root-session/IAMDeleteRootUserCredentials
    account: sandbox-1
    action: iam:CreateAccessKey
    resource: "arn:${partition}:iam::${account_id}:root"
    expect: deny
"""
    directory = _example_copy(tmp_path, extra, tests)
    organization = directory / "organization.yaml"
    organization.write_text(organization.read_text(encoding="utf-8").replace(
        "    - deny-root-user\n", "    - deny-root-user: {allow_centralized_root: true}\n"), encoding="utf-8")
    # With deny-iam-users-except-tagged attached, the SCP (evaluated first) decides this example test's denials.
    example_tests = directory / "tests.yaml"
    example_tests.write_text(example_tests.read_text(encoding="utf-8").replace(
        "    decided_by: GuardrailsWorkloadBoundary\n", ""), encoding="utf-8")
    compiled = compile_blueprint(directory)  # raises BlueprintError if an access test fails
    assert compiled.test_results and all(r.passed for r in compiled.test_results)
    assert [d.render() for d in check_plan(compiled.plan) if d.severity.name == "ERROR"] == []
    root_ids = {i for s in compiled.plan.scps if s.target == "root" for i in s.guardrails}
    assert root_ids >= {g for g in NEW_IDS if CATALOG[g].kind == "scp"}


# ----------------------------------------------------------------------------- documentation


def test_catalog_markdown_is_fresh() -> None:
    committed = (ROOT / "docs/catalog.md").read_text(encoding="utf-8")
    assert committed == cat.catalog_markdown(), "docs/catalog.md is stale: run `make schema`"


def test_catalog_command_writes_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "catalog.md"
    assert main(["catalog", "--markdown", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == cat.catalog_markdown()
    assert main(["catalog"]) == 0
    printed = capsys.readouterr().out
    assert "data-perimeter-identity (rcp)" in printed and "allow_centralized_root (boolean)" in printed


def test_action_parameters_are_checked_against_the_iam_database_at_the_value(tmp_path: Path) -> None:
    from guardrails.pipeline import compile_blueprint as compile_all

    directory = _example_copy(tmp_path, "    - require-mfa-for-sensitive-actions: "
                                        "{actions: [ec2:TerminateInstance, rds:DeleteDBCluster]}\n")
    with pytest.raises(BlueprintError) as raised:
        compile_all(directory, run_tests=False)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "GR312" and diagnostic.message == "unknown action 'ec2:TerminateInstance'"
    assert diagnostic.hint == "did you mean `ec2:TerminateInstances`?"
    assert diagnostic.location is not None and diagnostic.location.file.endswith("organization.yaml")
    # the first item of the list
    assert (diagnostic.location.line, diagnostic.location.column) == (_extra_line(directory), 53)
