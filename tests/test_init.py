"""`guardrails init`: the README's quick start, followed literally in an empty folder, builds green; every layout ×
Control Tower × identity passes `check`, in phase 1 and once phase-2/ is moved in; a non-empty folder is refused;
prompts on a terminal, defaults elsewhere; the same options give the same bytes."""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guardrails.blueprint.starter import PHASE_2, StarterError, StarterOptions, placeholders, starter_files
from guardrails.cli import main
from guardrails.cli.init import gather
from guardrails.pipeline import build, compile_policy_tree

from .conftest import ROOT, checkov_executable

COMBINATIONS = [(layout, tower, identity) for layout in ("recommended", "minimal") for tower in (False, True)
                for identity in ("identity-center", "iam-users")]


def quick_start() -> str:
    """The shell block of README.md's quick start that runs `guardrails init`, exactly as written there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    first = next(b for b in blocks if re.search(r"^guardrails init\b", b, flags=re.MULTILINE))
    assert "guardrails build" in first
    return first


def _env(tmp_path: Path) -> dict[str, str]:
    """A `guardrails` on PATH that runs this tree (as `.venv/bin/guardrails` would), checkov, wide columns."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "guardrails"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m guardrails "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
           "COLUMNS": "200", "NO_COLOR": "1"}
    executable = checkov_executable()
    if executable is None and shutil.which("checkov") is None:
        pytest.fail("checkov is not installed: run `make test` (it creates .venv-checkov)")
    if executable:
        env["GUARDRAILS_CHECKOV"] = executable
    return env


def _write(directory: Path, *flags: str) -> None:
    assert main(["-q", "init", str(directory), "--no-input", *flags]) == 0


@pytest.mark.slow
def test_readme_quick_start_in_an_empty_folder_builds_green(tmp_path: Path) -> None:
    folder = tmp_path / "my-landing-zone"
    folder.mkdir()
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", quick_start()], cwd=folder, env=_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # No error, no warning (every diagnostic goes to standard error); only the progress lines of the long steps.
    progress = re.compile(r"\S.* (started|(finished|failed) (in|after) \d+(\.\d+)? s)")
    assert all(progress.fullmatch(line) for line in done.stderr.splitlines()), done.stderr
    counts = re.findall(r"(\d+) finding\(s\)", done.stdout)
    assert len(counts) == 5 and set(counts) == {"0"}, done.stdout  # own checks, cfn-lint, checkov, parliament …
    assert re.search(r"\d+ passed, 0 failed", done.stdout), done.stdout
    assert (folder / "output" / "policies" / "manifest.json").is_file()
    assert (folder / "blueprints" / "classes.lock.json").is_file()  # the build pins the class names


@pytest.mark.parametrize(("layout", "tower", "identity"), COMBINATIONS)
def test_every_combination_checks_in_phase_one_and_two(tmp_path: Path, layout: str, tower: bool,
                                                       identity: str) -> None:
    blueprint = tmp_path / "blueprints"
    _write(blueprint, "--layout", layout, "--control-tower" if tower else "--no-control-tower",
           "--identity", identity, "--home-region", "eu-west-1", "--regions", "eu-west-1,eu-central-1")
    phase_one = compile_policy_tree(blueprint)
    assert [a.name for a in phase_one.plan.accounts] == ["management"]  # members are created first (phase 1)
    assert not phase_one.warnings
    # Phase 2, as phase-2/README.md says: the ids recorded by the real commands, the files moved in.
    numbers = iter(range(200000000001, 200000000100))
    if tower:
        for name in ("log-archive", "audit"):
            assert main(["-q", "account", "add", name, "--ou", "Security", "--email", f"aws+{name}@example.com",
                         "--id", str(next(numbers)), "-b", str(blueprint), "--no-build"]) == 0
    for match in re.finditer(r"^guardrails account set-id (\S+) ID --no-build$",
                             (blueprint / PHASE_2 / "README.md").read_text(encoding="utf-8"), flags=re.MULTILINE):
        assert main(["-q", "account", "set-id", match.group(1), str(next(numbers)), "-b", str(blueprint),
                     "--no-build"]) == 0
    for moved in (blueprint / PHASE_2).glob("*.yaml"):
        moved.replace(blueprint / moved.name)
    phase_two = compile_policy_tree(blueprint)
    assert phase_two.plan.security is not None
    assert len(phase_two.plan.accounts) == (3 if layout == "minimal" else 5)
    assert {t.name for t in phase_two.plan.tests} >= {"break-glass-administers-every-account",
                                                      "auditors-stay-in-allowed-regions"}


@pytest.mark.slow
@pytest.mark.parametrize("flags", [
    ("--layout", "minimal", "--control-tower", "--identity", "iam-users", "--organization-id", "o-abcdefghij",
     "--root-id", "r-ab12", "--management-account-id", "123456789012", "--management-email", "cloud@corp.example"),
    ("--layout", "recommended", "--identity", "iam-users", "--home-region", "eu-central-1", "--regions",
     "eu-west-1,eu-central-1"),
])
def test_more_combinations_build_green_with_every_validator(tmp_path: Path, flags: tuple[str, ...]) -> None:
    blueprint = tmp_path / "blueprints"
    _write(blueprint, *flags)
    executable = checkov_executable()
    if executable is None and shutil.which("checkov") is None:
        pytest.fail("checkov is not installed: run `make test` (it creates .venv-checkov)")
    result = build(blueprint, tmp_path / "output", checkov=executable)
    assert result.diagnostics == [], "\n".join(d.render() for d in result.diagnostics)
    assert len(result.validator_summary) == 5


def test_a_non_empty_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "blueprints"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert main(["init", str(folder), "--no-input"]) == 3
    assert "is not empty; nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".blueprints.init-")]  # no staging left over
    assert main(["-q", "init", str(folder), "--no-input", "--force"]) == 0  # --force: the starter's files only
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (folder / "organization.yaml").is_file() and (folder / PHASE_2 / "security.yaml").is_file()
    file = tmp_path / "a-file"
    file.write_text("", encoding="utf-8")
    assert main(["init", str(file), "--no-input", "--force"]) == 3
    assert "is a file" in capsys.readouterr().err


def test_an_empty_folder_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "blueprints"
    folder.mkdir()
    monkeypatch.chdir(folder)
    _write(Path("."))  # the working directory itself
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".yaml") == [
        "identity-center.yaml", "identity.yaml", "organization.yaml", "tests.yaml"]
    assert not [p for p in tmp_path.iterdir() if ".init-" in p.name]
    folder = tmp_path / "other"
    folder.mkdir()
    _write(folder)
    assert (folder / "organization.yaml").is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask  # not the 0700 of the temporary folder it was


def test_bad_option_values_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "a"), "--no-input", "--home-region", "ap-southeast-5",
                 "--organization-id", "o-x", "--regions", "eu-west-1,mars-north-1"]) == 64
    err = capsys.readouterr().err
    assert "--home-region 'ap-southeast-5' launched after February 2022" in err
    assert "--organization-id 'o-x' is not an organization id" in err
    assert "'mars-north-1' is not a region guardrails knows" in err
    assert not (tmp_path / "a").exists()
    for flags in (["--layout", "flat"], ["--management-account-id", "12"]):  # argparse's own checks
        with pytest.raises(SystemExit) as exited:
            main(["init", str(tmp_path / "b"), *flags])
        assert exited.value.code == 64


def _args(**given: object) -> argparse.Namespace:
    names = ("name", "organization_id", "root_id", "management_account_id", "management_email", "home_region",
             "regions", "layout", "control_tower", "identity")
    return argparse.Namespace(**{n: given.get(n) for n in names})


def test_answers_fill_what_the_flags_leave_out() -> None:
    asked: list[str] = []
    answers = iter(["", "o-x", "o-abcdefghij", "r-ab12", "123456789012", "eu-west-1", "eu-west-1, eu-central-1",
                    "min", "maybe", "y", "iam"])

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    options = gather(_args(management_email="cloud@corp.example"), ask)
    assert options == StarterOptions(organization_id="o-abcdefghij", root_id="r-ab12",
                                     management_account_id="123456789012", management_email="cloud@corp.example",
                                     home_region="eu-west-1", regions=("eu-west-1", "eu-central-1"),
                                     layout="minimal", control_tower=True, identity="iam-users")
    assert asked[0] == "Organization short name (lowercase, digits, dashes) [my-org]: "
    assert "Home region [us-east-1]: " in asked and not any("root email" in a for a in asked)  # the flag won
    assert asked.count("Does AWS Control Tower govern the organization? (yes/no) [no]: ") == 2  # "maybe" re-asked
    assert asked.count("Organization id (o-…), or `new` for one still to be created [new]: ") == 2  # "o-x" too
    assert starter_files(gather(_args(), None)) == _default_files()  # no terminal: the defaults, never a prompt
    assert starter_files(gather(_args(), lambda prompt: "")) == _default_files()  # Enter: the defaults shown


def _run_on_a_terminal(tmp_path: Path, answers: str) -> tuple[int, str]:
    """`guardrails init` with standard input, output and error on a pseudo-terminal, the answers typed ahead."""
    controller, terminal = pty.openpty()
    env = {**_clean_env(), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "guardrails", "init", str(tmp_path / "blueprints")],
                               stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=tmp_path)
    os.close(terminal)
    os.write(controller, answers.encode())
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process has exited
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    code = process.wait(timeout=30)
    os.close(controller)
    return code, output.decode(errors="replace")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_prompts_on_a_terminal_and_defaults_elsewhere(tmp_path: Path) -> None:
    code, output = _run_on_a_terminal(tmp_path, "acme\nnew\n\n\neu-west-1\neu-west-1,eu-north-1\nminimal\nno\n\n")
    assert code == 0, output
    assert "Organization short name (lowercase, digits, dashes) [my-org]:" in output
    assert "Home region [us-east-1]:" in output
    organization = (tmp_path / "blueprints" / "organization.yaml").read_text(encoding="utf-8")
    assert "  name: acme " in organization and "allowed_regions: [eu-west-1, eu-north-1]" in organization
    assert "Infrastructure" not in organization  # minimal layout
    quiet = tmp_path / "piped"
    quiet.mkdir()
    done = subprocess.run([sys.executable, "-m", "guardrails", "init", "blueprints"], cwd=quiet,
                          env={**_clean_env(), "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "[my-org]" not in done.stdout  # not a terminal: no question, the defaults
    assert (quiet / "blueprints" / "organization.yaml").read_bytes() == _default_files()["organization.yaml"].encode()


def _default_files() -> dict[str, str]:
    return starter_files(StarterOptions())


def test_the_same_options_give_the_same_bytes(tmp_path: Path) -> None:
    flags = ("--layout", "minimal", "--control-tower", "--regions", "us-east-1,eu-west-1")
    _write(tmp_path / "one", *flags)
    done = subprocess.run([sys.executable, "-m", "guardrails", "-q", "init", str(tmp_path / "two"), "--no-input",
                           *flags], env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr

    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert starter_files(StarterOptions()) == _default_files()
    assert starter_files(StarterOptions(layout="minimal")) != _default_files()


def test_placeholders_are_marked_and_listed() -> None:
    files = _default_files()
    listed = placeholders(files)
    assert any("id: o-0000000000" in line for line in listed)
    assert any('id: "000000000000"' in line for line in listed)
    # Every placeholder value of the top folder sits on a REPLACE line; given values are not marked.
    for path, text in files.items():
        for line in text.splitlines():
            if re.search(r"example\.com|0000000000|ou-0000", line) and not line.lstrip().startswith("#"):
                assert "REPLACE" in line, f"{path}: {line}"
    given = starter_files(StarterOptions(organization_id="o-abcdefghij", root_id="r-ab12",
                                         management_account_id="123456789012",
                                         management_email="cloud@corp.example", identity="iam-users"))
    assert placeholders(given) == []
    assert "cloud+log-archive@corp.example" in given["organization.yaml"]


def test_options_are_checked_before_anything_is_written() -> None:
    with pytest.raises(StarterError, match="--name 'My Org'"):
        starter_files(StarterOptions(name="My Org"))


def test_false_positives_on_every_blueprint_are_stale_only_where_they_could_arise() -> None:
    """The starter's first build must not tell its user to edit guardrails' data (GR803): the list's entries on
    every job function's policy (guardrails-*.json) name the action their finding needs (`requires`)."""
    from guardrails.validators.external_findings import ExternalFindingsError, known_false_positives

    broad = [e for e in known_false_positives() if e.documents.endswith("/managed/guardrails-*.json")]
    assert broad and all(e.requires for e in broad)
    ecr = next(e for e in broad if e.subject == "ecr:GetAuthorizationToken")
    assert not ecr.could_arise(frozenset({"sts:assumerole"}))
    assert ecr.could_arise(frozenset({"ecr:get*"}))
    entry = ("- {tool: parliament, finding: X, subject: s, documents: 'policies/*', reason: r, requires: %s}")
    assert known_false_positives(entry % "[lambda:UpdateFunctionCode]")[0].requires == ("lambda:updatefunctioncode",)
    with pytest.raises(ExternalFindingsError, match="requires is a list of action names"):
        known_false_positives(entry % "lambda")
