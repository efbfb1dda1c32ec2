"""Canary rollout: new or changed SCPs/RCPs reach the canary OUs first, everything else keeps the released ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guardrails.cli import main
from guardrails.diagnostics import BlueprintError
from guardrails.pipeline import build, compile_blueprint

from .conftest import ROOT

CANARY = "  rollout: {canary_units: [Sandbox]}\n"
ANCHOR = "  guardrails:                        # attached at the root\n"


@pytest.fixture()
def released(tmp_path: Path) -> tuple[Path, Path]:
    """The example with a canary OU, built (released) into an output directory, and the rollout started."""
    blueprint = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprint)
    organization = blueprint / "organization.yaml"
    organization.write_text(organization.read_text(encoding="utf-8").replace(ANCHOR, CANARY + ANCHOR), "utf-8")
    output = tmp_path / "output"
    build(blueprint, output, validate=False)
    assert main(["rollout", "start", str(blueprint), "-o", str(output)]) == 0
    return blueprint, output


def change_root_guardrails(blueprint: Path) -> None:
    organization = blueprint / "organization.yaml"
    text = organization.read_text(encoding="utf-8")
    organization.write_text(text.replace("    - deny-root-access-keys\n", "    - deny-root-access-keys\n    - require-imdsv2\n"),
                            "utf-8")


def test_changed_policies_go_to_the_canary_ou_and_the_rest_keeps_the_released_version(
        released: tuple[Path, Path]) -> None:
    blueprint, output = released
    before = json.loads((output / "policies/scp/guardrails-root.json").read_text(encoding="utf-8"))
    change_root_guardrails(blueprint)
    plan = compile_blueprint(blueprint).plan  # access tests and the lockout proof still pass mid-rollout
    root = next(p for p in plan.scps if p.name == "guardrails-root")
    assert root.target == "root" and root.document.to_json() == before  # released version everywhere else
    canary = next(p for p in plan.scps if p.name == "guardrails-root-canary")
    assert canary.target == "ou:Sandbox" and "require-imdsv2" in canary.guardrails
    assert "RequireImdsv2OnLaunch" in {s.sid for s in canary.document.statements}
    # Unchanged policies are not copied.
    assert not any(p.name == "guardrails-rcp-root-canary" for p in plan.rcps)
    assert not any(p.name.startswith("workloads-deny-expensive-instances-canary") for p in plan.scps)


def test_promotion_releases_everywhere(released: tuple[Path, Path]) -> None:
    blueprint, _ = released
    change_root_guardrails(blueprint)
    assert main(["rollout", "promote", str(blueprint)]) == 0
    plan = compile_blueprint(blueprint, run_tests=False).plan
    assert not any(p.name.endswith("-canary") for p in plan.scps)
    root = next(p for p in plan.scps if p.name == "guardrails-root")
    assert "RequireImdsv2OnLaunch" in {s.sid for s in root.document.statements}


def test_a_removed_policy_stays_until_promotion(released: tuple[Path, Path]) -> None:
    blueprint, _ = released
    organization = blueprint / "organization.yaml"
    text = organization.read_text(encoding="utf-8")
    start = text.index("      scps:\n        - name: workloads-deny-expensive-instances")
    end = text.index("      units:\n        Prod:")
    organization.write_text(text[:start] + text[end:], "utf-8")
    plan = compile_blueprint(blueprint).plan
    kept = next(p for p in plan.scps if p.name == "workloads-deny-expensive-instances")
    assert kept.target == "ou:Workloads"


def test_rollout_mistakes_are_clear(released: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    blueprint, output = released
    assert main(["rollout", "start", str(blueprint), "-o", str(output)]) == 3
    assert "a rollout is in progress" in capsys.readouterr().err
    organization = blueprint / "organization.yaml"
    organization.write_text(organization.read_text(encoding="utf-8").replace(CANARY, ""), "utf-8")
    with pytest.raises(BlueprintError, match="blueprint error"):
        compile_blueprint(blueprint, run_tests=False)
    (blueprint / "rollout.lock.json").write_text("{not json", "utf-8")
    organization.write_text(organization.read_text(encoding="utf-8").replace(ANCHOR, CANARY + ANCHOR), "utf-8")
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(blueprint, run_tests=False)
    assert caught.value.diagnostics[0].code == "GR313"
    assert main(["rollout", "promote", str(blueprint)]) == 0
    assert main(["rollout", "promote", str(blueprint)]) == 3
