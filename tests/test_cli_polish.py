"""Issue 18, item 4: progress of long steps on stderr, NO_COLOR on a real terminal, the top --help line, checkov
for pip users (`guardrails setup checkov`, the lock in the wheel, the discovery order) and the public Python API."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

import guardrails
from guardrails import progress
from guardrails.cli import main
from guardrails.cli import progress as cli_progress
from guardrails.cli.parser import DESCRIPTION
from guardrails.diagnostics import ToolError
from guardrails.validators import checkov_setup
from guardrails.validators.checkov import find_checkov

from .conftest import ROOT

MINIMAL = ROOT / "tests" / "cases" / "minimal" / "blueprint"
ESCAPE = re.compile(r"\x1b[\[\]()]")  # CSI, OSC and charset sequences: any styling or cursor control
EXPLAIN = ["explain", "user/bg-one", "iam:ListUsers", "--account", "security", "--blueprint", str(MINIMAL)]


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[bytes, int]:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; what the terminal received, and the exit code."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks), process.wait(timeout=120)


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
                                                             "TTY_INTERACTIVE", "COLUMNS")}
    env.update({"TERM": "xterm-256color", "PYTHONPATH": str(ROOT)})
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


# ----------------------------------------------------------------------------- 1. progress


@pytest.fixture
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step prints, however short (the default waits 2 s, so a quick `check` stays silent)."""
    monkeypatch.setattr(cli_progress, "DELAY", 0.0)


def test_progress_lines_go_to_stderr_when_it_is_not_a_terminal(no_delay: None, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(MINIMAL), "-o", str(tmp_path / "out"), "--skip-external"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    for step in ("compile", "lockout proof", "escalation analysis", "own checks"):  # minimal has no access tests
        assert f"{step} started" in lines, captured.err
        assert any(re.fullmatch(rf"{step} finished in \d+\.\d s", line) for line in lines), captured.err
    assert "started" not in captured.out and "finished in" not in captured.out
    assert not ESCAPE.search(captured.err)


def test_quiet_prints_no_progress(no_delay: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(MINIMAL), "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["-q", *EXPLAIN]) == 0
    assert "started" not in capsys.readouterr().err


def test_json_on_stdout_is_the_same_with_progress(no_delay: None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diff", str(MINIMAL), str(MINIMAL), "--format", "json"]
    assert main(argv) == 0
    with_progress = capsys.readouterr()
    assert "compile started" in with_progress.err
    assert main([*argv, "-q"]) == 0
    quiet = capsys.readouterr()
    assert with_progress.out == quiet.out and isinstance(json.loads(with_progress.out), dict)


def test_the_sarif_log_is_the_same_with_progress(no_delay: None, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    logs = []
    for quiet in ([], ["-q"]):
        report = tmp_path / f"g{len(logs)}.sarif"
        assert main(["build", str(MINIMAL), "-o", str(tmp_path / "out"), "--skip-external", "--sarif", str(report),
                     *quiet]) == 0
        logs.append(json.loads(report.read_text(encoding="utf-8")))
        assert "finished in" not in capsys.readouterr().out
    assert logs[0] == logs[1]


def test_only_steps_longer_than_the_delay_print_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    listener = cli_progress.StderrProgress(Console(file=stream, width=200), delay=0.3)
    assert not listener.spinner
    with progress.listening(listener):
        with progress.step("quick"):
            pass
        with progress.step("slow"):
            time.sleep(0.8)
        with pytest.raises(RuntimeError), progress.step("broken"):
            time.sleep(0.8)
            raise RuntimeError("boom")
    lines = stream.getvalue().splitlines()
    assert [line.split(" in ")[0].split(" after ")[0] for line in lines] == [
        "slow started", "slow finished", "broken started", "broken failed"]
    assert re.fullmatch(r"slow finished in 0\.[89] s|slow finished in 1\.\d s", lines[1]), lines


def test_steps_of_several_threads_each_print_their_lines() -> None:
    stream = io.StringIO()
    listener = cli_progress.StderrProgress(Console(file=stream, width=200), delay=0.0)

    def run(name: str) -> None:
        with progress.step(name):
            time.sleep(0.05)

    with progress.listening(listener):
        threads = [threading.Thread(target=run, args=(name,)) for name in ("cfn-lint", "checkov", "parliament")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    text = stream.getvalue()
    for name in ("cfn-lint", "checkov", "parliament"):
        assert f"{name} started\n" in text and f"{name} finished in" in text


def test_without_a_listener_a_step_costs_nothing() -> None:
    with progress.listening(None), progress.step("anything"):
        pass  # no listener, nothing printed anywhere, no error


def test_a_terminal_gets_a_spinner_and_no_color_plain_lines(no_delay: None) -> None:
    """On a real terminal: a spinner (cursor control) by default; with NO_COLOR plain lines and no escape at all."""
    code = "import sys; from guardrails.cli import progress, main; progress.DELAY = 0.0; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "check", str(MINIMAL)]
    spinner, status = _on_a_terminal(argv, _env())
    assert status == 0
    assert b"\x1b[?25l" in spinner and b"compile finished in" in spinner  # the spinner hides the cursor
    plain, status = _on_a_terminal(argv, _env(NO_COLOR="1"))
    assert status == 0 and b"compile started" in plain and b"compile finished in" in plain
    assert not ESCAPE.search(plain.decode("utf-8")), plain[:400]


# ----------------------------------------------------------------------------- 2. NO_COLOR on a terminal


@pytest.mark.parametrize("command", [EXPLAIN, ["report", "least-privilege", str(MINIMAL)]], ids=["explain", "report"])
def test_no_color_leaves_no_escape_on_a_terminal(command: list[str]) -> None:
    argv = [sys.executable, "-m", "guardrails", *command]
    styled, status = _on_a_terminal(argv, _env())
    assert status == 0 and ESCAPE.search(styled.decode("utf-8"))  # a terminal gets bold, dim and colours
    for env in (_env(NO_COLOR="1"), _env(TERM="dumb")):  # no-color.org; a dumb terminal, as rich reads it
        plain, status = _on_a_terminal(argv, env)
        assert status == 0 and plain.strip()
        assert not ESCAPE.search(plain.decode("utf-8")), plain[:400]


def test_an_empty_no_color_is_unset_and_force_color_styles_a_pipe() -> None:
    """no-color.org: only a non-empty NO_COLOR counts. FORCE_COLOR styles output that is not a terminal (rich)."""
    argv = [sys.executable, "-m", "guardrails", *EXPLAIN]
    styled, status = _on_a_terminal(argv, _env(NO_COLOR=""))
    assert status == 0 and ESCAPE.search(styled.decode("utf-8"))
    piped = subprocess.run(argv, capture_output=True, text=True, env=_env(FORCE_COLOR="1"), cwd=ROOT, check=False)
    assert piped.returncode == 0 and ESCAPE.search(piped.stdout)
    piped = subprocess.run(argv, capture_output=True, text=True, env=_env(FORCE_COLOR="1", NO_COLOR="1"), cwd=ROOT,
                           check=False)
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout + piped.stderr


# ----------------------------------------------------------------------------- 3. --help


def test_the_console_scripts_help_starts_with_what_guardrails_is() -> None:
    run = subprocess.run([sys.executable, "-m", "guardrails", "--help"], capture_output=True, text=True,
                         env=_env(COLUMNS="300"), cwd=ROOT, check=False)
    assert run.returncode == 0
    paragraphs = run.stdout.split("\n\n")
    assert paragraphs[0].startswith("usage: guardrails")
    assert paragraphs[1].strip() == DESCRIPTION and DESCRIPTION.startswith("Compile a YAML blueprint")
    assert "setup" in run.stdout and "docstring" not in run.stdout and "No logic" not in run.stdout


# ----------------------------------------------------------------------------- 4. checkov for pip users


def _fake_checkov(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho 0.0\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_checkov_is_found_in_the_documented_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    explicit = _fake_checkov(tmp_path / "explicit" / "checkov")
    from_env = _fake_checkov(tmp_path / "env" / "checkov")
    set_up_dir = tmp_path / "data" / "guardrails" / f"checkov-{checkov_setup.checkov_version()}"
    set_up = _fake_checkov(set_up_dir / "bin" / "checkov")
    repo = tmp_path / "repo"
    in_repo = _fake_checkov(repo / ".venv-checkov" / "bin" / "checkov")
    on_path = _fake_checkov(tmp_path / "bin" / "checkov")
    monkeypatch.setenv("GUARDRAILS_CHECKOV", str(from_env))

    def found(explicit_value: str | None = None) -> str:
        return find_checkov(explicit_value, venv_roots=[repo])

    assert found(str(explicit)) == str(explicit)
    assert found() == str(from_env)
    monkeypatch.delenv("GUARDRAILS_CHECKOV")
    assert found() == str(in_repo)  # a setup directory without its marker is an interrupted setup: skipped
    (set_up_dir / checkov_setup.MARKER).write_text("x\n", encoding="utf-8")
    assert found() == str(set_up) == str(checkov_setup.installed_executable())
    shutil.rmtree(tmp_path / "data")
    assert found() == str(in_repo)
    shutil.rmtree(repo)
    assert found() == str(on_path)


def test_no_checkov_names_guardrails_setup_checkov(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("GUARDRAILS_CHECKOV", raising=False)
    with pytest.raises(ToolError) as raised:
        find_checkov(None, venv_roots=[tmp_path])
    message = str(raised.value)
    assert message.startswith("checkov not found (no --checkov, no $GUARDRAILS_CHECKOV, no `guardrails setup "
                              "checkov` environment, no .venv-checkov, none on PATH)")
    assert "run `guardrails setup checkov`" in message and "`make build`" in message
    with pytest.raises(ToolError, match="guardrails setup checkov"):
        find_checkov(str(tmp_path / "missing"))


def test_the_default_setup_directory_follows_xdg() -> None:
    version = checkov_setup.checkov_version()
    assert version == re.search(r"^checkov==(\S+)$", checkov_setup.lock_text(), re.MULTILINE).group(1)
    assert checkov_setup.default_directory({"XDG_DATA_HOME": "/x/data", "HOME": "/home/u"}) == \
        Path(f"/x/data/guardrails/checkov-{version}")
    for unset in ({"HOME": "/home/u"}, {"XDG_DATA_HOME": "relative", "HOME": "/home/u"}):  # the spec ignores relative
        assert checkov_setup.default_directory(unset) == Path(f"/home/u/.local/share/guardrails/checkov-{version}")


def test_the_install_plan_is_a_venv_then_pip_with_the_shipped_lock(tmp_path: Path) -> None:
    plan = checkov_setup.install_plan(tmp_path / "ck")
    assert plan.lock == ROOT / "guardrails" / "data" / "checkov.lock" and plan.python == sys.executable
    assert not plan.hashed  # the lock has no hashes today; --require-hashes would reject it
    venv, pip = plan.commands()
    assert venv == [sys.executable, "-m", "venv", "--clear", str(tmp_path / "ck")]
    assert pip[:4] == [str(tmp_path / "ck" / "bin" / "python"), "-m", "pip", "install"]
    assert pip[-2:] == ["-r", str(plan.lock)] and "--require-hashes" not in pip
    hashed = checkov_setup.InstallPlan(plan.directory, "python3", plan.lock, hashed=True)
    assert hashed.commands()[1][-3:] == ["--require-hashes", "-r", str(plan.lock)]


def test_setup_refuses_a_folder_that_is_not_a_virtual_environment(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["setup", "checkov", "--dir", str(tmp_path / "mine")]) == 3
    assert "is not a virtual environment: nothing was changed" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_one_lock_and_the_makefile_reads_it() -> None:
    assert not (ROOT / ".ci" / "checkov.lock").exists()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "CHECKOV_LOCK := guardrails/data/checkov.lock" in makefile and "-r $(CHECKOV_LOCK)" in makefile


def test_the_wheel_ships_the_checkov_lock(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "guardrails", source / "guardrails", ignore=shutil.ignore_patterns("__pycache__"))
    # No build isolation: setuptools is in the environment already (a pinned dependency), nothing downloads.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("guardrails-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("guardrails/data/checkov.lock").decode("utf-8")
        names = set(archive.namelist())
    assert shipped == checkov_setup.lock_text()
    assert {"guardrails/api.py", "guardrails/progress.py", "guardrails/validators/checkov_setup.py"} <= names


@pytest.mark.slow
def test_setup_checkov_installs_the_lock_where_guardrails_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A real install from the package index (about 30 s here), into the default place under XDG_DATA_HOME."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("GUARDRAILS_CHECKOV", raising=False)
    assert main(["setup", "checkov"]) == 0
    version = checkov_setup.checkov_version()
    assert f"checkov {version} is ready" in capsys.readouterr().out
    executable = find_checkov(None, venv_roots=[])
    assert executable == str(checkov_setup.default_directory() / "bin" / "checkov")
    run = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True, timeout=120)
    assert run.stdout.strip() == version
    frozen = subprocess.run([str(checkov_setup.default_directory() / "bin" / "python"), "-m", "pip", "freeze"],
                            capture_output=True, text=True, check=True).stdout
    pinned = {line.lower() for line in checkov_setup.lock_text().splitlines() if "==" in line}
    assert pinned <= {line.lower() for line in frozen.splitlines()}
    assert main(["setup", "checkov"]) == 0
    assert "already set up" in capsys.readouterr().out


# ----------------------------------------------------------------------------- 5. the Python API


def _doc() -> str:
    return (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def test_the_api_docs_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _doc(), re.DOTALL)
    assert blocks
    monkeypatch.chdir(ROOT)
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), {"__name__": "docs_api"})  # noqa: S102 - the documented example
    printed = capsys.readouterr().out
    assert "explicit deny: SCP guardrails-root: Deny DenyLeaveOrganization" in printed
    assert "error GR100" in printed


def test_every_public_name_resolves_and_is_documented() -> None:
    doc = _doc()
    assert guardrails.__all__ and len(set(guardrails.__all__)) == len(guardrails.__all__)
    for name in guardrails.__all__:
        value = getattr(guardrails, name)
        assert f"guardrails.{name}" in doc or f"**`{name}`**" in doc, name
        if callable(value):
            assert value.__doc__, name
    assert set(guardrails.__all__) <= set(dir(guardrails))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        guardrails.nope  # noqa: B018


def test_import_guardrails_imports_nothing_else() -> None:
    code = "import sys, guardrails; print(sorted(m for m in sys.modules if m.startswith('guardrails')))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=_env())
    assert run.stdout.strip() == "['guardrails']"


def test_the_api_accepts_str_paths(tmp_path: Path) -> None:
    compiled = guardrails.compile_policy_tree(str(MINIMAL), run_tests=False)
    assert isinstance(compiled, guardrails.Compiled) and isinstance(compiled.plan, guardrails.Plan)
    assert "policies/manifest.json" in compiled.files and not any(p.startswith("terraform/") for p in compiled.files)
    loaded = guardrails.load_blueprint(str(MINIMAL))
    assert loaded.blueprint.organization.name == compiled.plan.org.name
    result = guardrails.build(str(MINIMAL), str(tmp_path / "out"), external=False)
    assert isinstance(result, guardrails.BuildResult) and (tmp_path / "out" / "policies").is_dir()
    checked = guardrails.validate_output(str(MINIMAL), str(tmp_path / "out"), external=False)
    assert not [d for d in checked.diagnostics if d.severity is guardrails.Severity.ERROR]
    decision = compiled.organization.evaluate("user/bg-one", "security", "iam:ListUsers", "*")
    assert isinstance(decision, guardrails.Decision) and not decision.allowed
    with pytest.raises(guardrails.EvaluationError, match="unknown account"):
        compiled.organization.evaluate("user/bg-one", "nowhere", "iam:ListUsers", "*")
