"""Stable names of what is deployed (issue 16): `guardrails account add|set-id|move` on a copy of the example
change no class, Terraform module, StackSet or resource name of any other account, because the class names are
pinned in the blueprint's classes.lock.json; a forced rename is a replacement in `guardrails diff`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from guardrails.cli import main
from guardrails.diagnostics import BlueprintError
from guardrails.emitters.write import read_tree
from guardrails.pipeline import Compiled, check_output, compile_blueprint
from guardrails.policies.class_lock import LOCK_FILE, ClassLock, assign_names, lock_text, read_lock

from .conftest import ROOT

Names = dict[str, dict[str, object]]


def _names(out: Path) -> Names:
    """Per account with a baseline: its class, module source, StackSet (logical id, name, template) and the
    names of every resource its class deploys (Terraform addresses and IAM names, CloudFormation logical ids)."""
    files = read_tree(out)
    manifest = json.loads(files["policies/manifest.json"])
    stacksets = {props["Properties"]["StackSetName"]: (logical, props["Properties"]["TemplateURL"]["Fn::Sub"])
                 for logical, props in yaml.safe_load(files["cloudformation/stacksets.yaml"])["Resources"].items()
                 if props["Type"] == "AWS::CloudFormation::StackSet"}
    names: Names = {}
    for account in manifest["accounts"]:
        key = account["class"]
        if key is None:
            continue
        module = f"terraform/modules/baseline-{key}/"
        terraform = sorted(found for path, text in files.items() if path.startswith(module)
                           for found in re.findall(r'^resource "(\S+)" "(\S+)" \{|^  name\s+= "(\S+)"', text, re.M))
        template = "cloudformation/" + ("management-baseline.yaml" if account["management"]
                                        else f"baseline-{key}.yaml")
        resources = yaml.safe_load(files[template])["Resources"]
        main_tf = files[f"terraform/accounts/{account['name']}/main.tf"]
        names[account["name"]] = {
            "class": key,
            "module": re.search(r'source = "([^"]+)"', main_tf).group(1),
            "module_call": re.findall(r'^module "(\S+)"', main_tf, re.M),
            "stackset": None if account["management"] else stacksets[f"guardrails-baseline-{key}"],
            "terraform": terraform,
            "cloudformation": sorted((logical, r["Type"], str(r.get("Properties", {}).get("RoleName", "")))
                                     for logical, r in resources.items()),
        }
    return names


def _account(blueprint: Path, out: Path, *args: str) -> None:
    assert main(["account", *args, "-b", str(blueprint), "-o", str(out), "--skip-external"]) == 0


@pytest.fixture
def blueprint(tmp_path: Path) -> Path:
    copy = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", copy)
    return copy


def _unchanged_but(before: Names, after: Names, changed: set[str]) -> None:
    for account in sorted(set(before) - changed):
        assert after[account] == before[account], f"{account}'s deployed names changed"


def test_set_id_and_move_rename_nothing_of_any_other_account(blueprint: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    # Phase 1 of a new account, then a quarantined one: Quarantine's baseline is Infrastructure's (only the
    # identities of `all: true`), so without the lock the infrastructure class would be renamed after both OUs.
    _account(blueprint, out, "add", "app-staging", "--ou", "Workloads/Dev", "--email", "aws+app-staging@example.com")
    _account(blueprint, out, "add", "fresh", "--quarantine", "--ou", "Workloads/Prod", "--email",
             "aws+fresh@example.com", "--id", "600000000001")
    start = _names(out)
    assert start["fresh"]["class"] == "infrastructure" == start["network"]["class"]
    assert {n["module_call"] == ["baseline"] for n in start.values()} == {True}

    _account(blueprint, out, "set-id", "app-staging", "400000000077")
    with_id = _names(out)
    assert with_id["app-staging"]["class"] == "workloads-dev"
    _unchanged_but(start, with_id, {"app-staging"})

    _account(blueprint, out, "move", "app-staging", "--ou", "Workloads/Prod")
    _account(blueprint, out, "move", "fresh", "--ou", "Workloads/Prod")
    moved = _names(out)
    assert moved["app-staging"]["class"] == moved["fresh"]["class"] == "workloads-prod"
    _unchanged_but(with_id, moved, {"app-staging", "fresh"})
    _unchanged_but(_example_names(tmp_path), moved, {"app-staging", "fresh"})

    lock = json.loads((blueprint / LOCK_FILE).read_text())["classes"]
    assert lock["workloads-prod"] == ["app-prod", "app-staging", "data-prod", "fresh"]
    assert lock["infrastructure"] == ["network", "shared-services"]
    assert main(["build", "--check", str(blueprint), "-o", str(out)]) == 0
    capsys.readouterr()

    # The moves are no StackSet replacement: the two accounts' stack instances change StackSet (medium).
    code = main(["diff", str(tmp_path / "example"), str(out), "--format", "json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in report["replacements"]} <= {"stack-instance"}
    assert all(set(r["accounts"]) <= {"app-staging", "fresh"} for r in report["replacements"])


def _example_names(tmp_path: Path) -> Names:
    """The example as committed, built once into tmp_path/example (also the base of the diffs)."""
    example = tmp_path / "example"
    if not example.exists():
        assert main(["build", str(ROOT / "blueprints"), "-o", str(example), "--no-validate"]) == 0
    return _names(example)


def test_a_forced_rename_is_a_high_risk_replacement_in_the_diff(blueprint: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    base = _example_names(tmp_path)
    lock = blueprint / LOCK_FILE
    lock.write_text(lock.read_text().replace('"sandbox-1": [', '"sandbox": ['))
    out = tmp_path / "renamed"
    assert main(["build", str(blueprint), "-o", str(out), "--no-validate"]) == 0
    renamed = _names(out)
    assert renamed["sandbox-1"]["class"] == "sandbox"
    assert renamed["sandbox-1"]["stackset"] == ("StackSetSandbox", "${BaselineTemplateBaseUrl}/baseline-sandbox.yaml")
    # Terraform keeps its addresses: the module call is "baseline" in every account, only its source moves.
    assert renamed["sandbox-1"]["terraform"] == base["sandbox-1"]["terraform"]
    assert renamed["sandbox-1"]["module"] == "../../modules/baseline-sandbox"
    _unchanged_but(base, renamed, {"sandbox-1"})
    capsys.readouterr()

    assert main(["diff", str(tmp_path / "example"), str(out), "--format", "json", "--fail-on-risk"]) == 4
    report = json.loads(capsys.readouterr().out)
    [replacement] = report["replacements"]
    assert replacement["kind"] == "stackset" and replacement["accounts"] == ["sandbox-1"]
    assert replacement["before"] == "StackSet guardrails-baseline-sandbox-1"
    assert replacement["after"] == "StackSet guardrails-baseline-sandbox"
    assert "role/BreakGlass" in replacement["destroys"] and "group/admins" in replacement["destroys"]
    assert "modules/baseline-sandbox-1 to modules/baseline-sandbox" in replacement["detail"]
    [flag] = [r for r in report["risks"] if r["kind"] == "stackset-replaced"]
    assert flag["severity"] == "high" and flag["subject"] == "StackSet guardrails-baseline-sandbox-1"
    assert main(["diff", str(tmp_path / "example"), str(out), "--format", "markdown"]) == 0
    assert "#### Replacements" in capsys.readouterr().out


# ----------------------------------------------------------------------------- naming rules, without AWS


def _lock(**classes: list[str]) -> ClassLock:
    return ClassLock({name.replace("_", "-"): frozenset(accounts) for name, accounts in classes.items()})


def _fresh(accounts: list[str] | tuple[str, ...]) -> str:
    return f"{accounts[0]}-and-more"


def test_a_class_keeps_its_name_whoever_joins_or_leaves() -> None:
    lock = _lock(workloads_prod=["app-prod", "data-prod"], sandbox_1=["sandbox-1"])
    assert assign_names([("app-prod", "data-prod", "new"), ("sandbox-1", "sandbox-2")], lock, _fresh) == \
        ["workloads-prod", "sandbox-1"]
    assert assign_names([("data-prod",), ("sandbox-1",)], lock, _fresh) == ["workloads-prod", "sandbox-1"]


def test_a_split_keeps_the_name_on_the_larger_part_and_a_merge_on_the_larger_class() -> None:
    lock = _lock(prod=["a", "b", "c"], dev=["d"])
    assert assign_names([("a",), ("b", "c")], lock, _fresh) == ["a-and-more", "prod"]
    assert assign_names([("a", "b", "c", "d")], lock, _fresh) == ["prod"]
    # a tie goes to the group whose first account sorts first: never to the order of the groups
    assert assign_names([("d", "e"), ("a",)], _lock(x=["a", "d"]), _fresh) == ["d-and-more", "x"]
    assert assign_names([("a",), ("d", "e")], _lock(x=["a", "d"]), _fresh) == ["x", "d-and-more"]


def test_new_names_never_reuse_a_locked_name() -> None:
    lock = _lock(new_and_more=["gone"])
    assert assign_names([("new",)], lock, lambda accounts: "new-and-more") == ["new-and-more-2"]
    assert assign_names([("x",), ("y",)], None, lambda accounts: "same") == ["same", "same-2"]


def test_the_example_lock_is_what_its_build_writes_and_what_the_rules_give(tmp_path: Path,
                                                                           example_compiled: Compiled) -> None:
    """The committed lock is up to date, and the example's names are those of the rules: a lock removed by mistake
    renames nothing today."""
    classes = {c.key: c.accounts for c in example_compiled.plan.classes}
    assert (ROOT / "blueprints" / LOCK_FILE).read_text() == lock_text(classes)
    copy = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", copy)
    (copy / LOCK_FILE).unlink()
    assert {c.key: c.accounts for c in compile_blueprint(copy, run_tests=False).plan.classes} == classes


@pytest.mark.parametrize("content, message", [
    ("{", "cannot be read"),
    ('{"format": "guardrails-classes/1", "classes": {"Bad Name": []}}', "'Bad Name' is not lower-case"),
    ('{"format": "guardrails-classes/1", "classes": {"a": ["x"], "b": ["x"]}}', "'x' is in classes 'a' and 'b'"),
    ('{"format": "other", "classes": {}}', '"format": "guardrails-classes/1"'),
])
def test_a_broken_lock_is_a_located_blueprint_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / LOCK_FILE).write_text(content)
    with pytest.raises(BlueprintError) as raised:
        read_lock(tmp_path, "bp")
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "GR313" and message in diagnostic.message and str(diagnostic.location) == \
        f"bp/{LOCK_FILE}"


def test_build_pins_the_names_and_check_reports_a_stale_lock(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = tmp_path / "bp"
    shutil.copytree(ROOT / "tests/cases/minimal/blueprint", blueprint)
    (blueprint / LOCK_FILE).unlink()
    out = tmp_path / "out"
    assert main(["build", str(blueprint), "-o", str(out), "--no-validate"]) == 0
    assert "class names" in capsys.readouterr().out
    assert (blueprint / LOCK_FILE).read_text() == (ROOT / "tests/cases/minimal/blueprint" / LOCK_FILE).read_text()
    assert not check_output(blueprint, out)[1].stale
    (blueprint / LOCK_FILE).write_text((blueprint / LOCK_FILE).read_text().replace('"workload": [', '"apps": ['))
    assert check_output(blueprint, out)[1].stale  # the output says "workload", the lock "apps"
    (blueprint / LOCK_FILE).unlink()
    assert main(["build", "--check", str(blueprint), "-o", str(out)]) == 2
    assert f"{blueprint / LOCK_FILE} is stale" in " ".join(capsys.readouterr().err.split())


def test_a_build_without_a_lock_keeps_the_names_its_output_deploys(tmp_path: Path) -> None:
    """An upgrade to the lock (or to other naming rules) renames nothing: the first lock comes from the output."""
    blueprint = tmp_path / "bp"
    shutil.copytree(ROOT / "tests/cases/minimal/blueprint", blueprint)
    lock = blueprint / LOCK_FILE
    lock.write_text(lock.read_text().replace('"workload": [', '"apps": ['))
    out = tmp_path / "out"
    assert main(["build", str(blueprint), "-o", str(out), "--no-validate"]) == 0
    assert "terraform/modules/baseline-apps/roles.tf" in read_tree(out)
    lock.unlink()  # the rules alone would name the class "workload"
    assert main(["build", str(blueprint), "-o", str(out), "--no-validate"]) == 0
    assert '"apps"' in lock.read_text() and "terraform/modules/baseline-apps/roles.tf" in read_tree(out)


def test_the_blueprint_may_let_stacksets_delete_the_stack_of_an_account_that_leaves(tmp_path: Path) -> None:
    blueprint = tmp_path / "bp"
    shutil.copytree(ROOT / "tests/cases/minimal/blueprint", blueprint)
    organization = blueprint / "organization.yaml"
    text = organization.read_text()
    assert "\norganization:\n" in text
    organization.write_text(text.replace("\norganization:\n",
                                         "\norganization:\n  retain_stacks_on_account_removal: false\n", 1))
    stacksets = yaml.safe_load(compile_blueprint(blueprint, run_tests=False).files["cloudformation/stacksets.yaml"])
    retained = {name: r["Properties"]["AutoDeployment"]["RetainStacksOnAccountRemoval"]
                for name, r in stacksets["Resources"].items() if r["Type"] == "AWS::CloudFormation::StackSet"}
    assert retained == {"StackSetSecurity": False, "StackSetWorkload": False}
