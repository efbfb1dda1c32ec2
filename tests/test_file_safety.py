"""Bad and hostile input on the file side (issue 14): an edit of the user's blueprint is all or nothing, a build never
moves a user's file or folder, referenced files stay inside the blueprint, validate fails on tampered output, and
no user text is read as terminal markup. Real files in tmp_path; the CLI through ``main([...])``."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from guardrails.blueprint import edit as blueprint_edit
from guardrails.cli import main
from guardrails.diagnostics import BlueprintError, ToolError
from guardrails.emitters.write import is_guardrails_output, read_tree, write_output
from guardrails.pipeline import build, compile_blueprint, drift_diagnostics, output_drift
from guardrails.workflows import apply_blueprint_edit

from .conftest import ROOT

MINIMAL = ROOT / "tests/cases/minimal/blueprint"
FEDERATION = ROOT / "tests/cases/federation/blueprint"


@pytest.fixture
def blueprint(tmp_path: Path) -> Path:
    copy = tmp_path / "bp"
    shutil.copytree(MINIMAL, copy)
    return copy


@pytest.fixture
def built(tmp_path: Path, blueprint: Path) -> Path:
    """The minimal blueprint built (own checks only) into tmp_path/out."""
    out = tmp_path / "out"
    build(blueprint, out, external=False)
    return out


def _tree_bytes(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- edits of the blueprint are atomic


class _HalfWritten:
    """A file object that writes half of what it is given, then finds the disk full."""

    def __init__(self, handle: object) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> object:
        return getattr(self._handle, name)

    def __enter__(self) -> _HalfWritten:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _full_disk(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """ENOSPC at the OS boundary: half a write, the fsync (delayed allocation) or the rename."""
    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: _HalfWritten(real_fdopen(*a, **k)))
    else:
        monkeypatch.setattr(os, where, fail)


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_account_add_on_a_full_disk_leaves_the_blueprint_byte_identical(
        blueprint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        where: str) -> None:
    before = _tree_bytes(blueprint)
    _full_disk(monkeypatch, where)
    code = main(["account", "add", "new-acct", "--ou", "Core", "--email", "aws+new-acct@example.com",
                 "-b", str(blueprint), "-o", str(tmp_path / "out"), "--no-build"])
    err = capsys.readouterr().err
    assert code == 3
    assert "No space left on device" in err and "the file was not changed" in err and "organization.yaml" in err
    assert "INTERNAL ERROR" not in err and "Traceback" not in err
    assert _tree_bytes(blueprint) == before, "the original bytes are intact and no temporary file is left"


def test_an_edit_replaces_the_file_whole_and_keeps_its_mode(blueprint: Path) -> None:
    path = blueprint / "organization.yaml"
    path.chmod(0o640)
    change = blueprint_edit.add_account(blueprint, name="extra", unit="Core", email="extra@minimal.example")
    inode = path.stat().st_ino
    change.apply()
    assert path.read_text() == change.after and path.stat().st_ino != inode  # renamed into place, not rewritten
    assert path.stat().st_mode & 0o777 == 0o640
    change.revert()
    assert path.read_text() == change.before
    assert sorted(p.name for p in blueprint.iterdir()) == ["classes.lock.json", "identity.yaml", "organization.yaml"]


def test_a_failed_build_after_the_edit_puts_the_original_back(blueprint: Path, tmp_path: Path) -> None:
    before = (blueprint / "organization.yaml").read_bytes()
    # the management account's email: the edit parses, the compiled blueprint does not (GR302)
    change = blueprint_edit.add_account(blueprint, name="dup-mail", unit="Core", email="root@minimal.example")
    with pytest.raises(BlueprintError):
        apply_blueprint_edit(change, blueprint, tmp_path / "out", build_output=False)
    assert (blueprint / "organization.yaml").read_bytes() == before


def test_a_revert_that_fails_says_the_file_still_holds_the_edit(blueprint: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    change = blueprint_edit.add_account(blueprint, name="dup-mail", unit="Core", email="root@minimal.example")
    real_revert = blueprint_edit.Edit.revert

    def full_disk_revert(self: blueprint_edit.Edit) -> None:
        _full_disk(monkeypatch, "replace")
        real_revert(self)

    monkeypatch.setattr(blueprint_edit.Edit, "revert", full_disk_revert)
    with pytest.raises(ToolError, match="still holds the edit"):
        apply_blueprint_edit(change, blueprint, tmp_path / "out", build_output=False)
    monkeypatch.undo()
    assert (blueprint / "organization.yaml").read_text() == change.after  # whole, never half


def test_unknown_ou_is_a_located_blueprint_error_listing_the_ous(blueprint: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = _tree_bytes(blueprint)
    code = main(["account", "add", "new-acct", "--ou", "Nope", "--email", "aws+new-acct@example.com",
                 "-b", str(blueprint), "-o", str(tmp_path / "out"), "--no-build"])
    err = capsys.readouterr().err
    assert code == 1
    assert "organization.yaml:11:3: error GR301: no OU 'Nope'" in err and "the OUs are: Core" in err
    assert _tree_bytes(blueprint) == before


def test_a_blueprint_the_editor_cannot_read_is_a_located_error(blueprint: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = blueprint / "organization.yaml"
    path.write_bytes(path.read_bytes().replace(b"name: minimal", "name: minimal-\xe9".encode("latin-1")))
    code = main(["account", "add", "x", "--ou", "Core", "--email", "x@example.com", "-b", str(blueprint),
                 "-o", str(tmp_path / "out"), "--no-build"])
    err = capsys.readouterr().err
    assert code == 1 and "organization.yaml:3:17: error GR101: not UTF-8 text (byte 0xe9)" in err


# ----------------------------------------------------------------------------- -o never replaces a user's things


def test_output_that_is_a_file_is_refused_and_the_file_stays(blueprint: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert main(["build", str(blueprint), "-o", str(notes), "--no-validate"]) == 3
    err = capsys.readouterr().err
    assert "is an existing file, not an output directory; nothing was written" in err
    assert notes.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bp", "notes.txt"]


def test_output_that_is_a_foreign_folder_is_refused(blueprint: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "documents"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "mine.json").write_text("{}")
    (folder / "thesis.tex").write_text("…")
    before = _tree_bytes(folder)
    assert main(["build", str(blueprint), "-o", str(folder), "--no-validate"]) == 3
    assert "not a guardrails output" in capsys.readouterr().err
    assert _tree_bytes(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bp", "documents"]
    # account add with a build refuses before touching the blueprint
    yaml_before = (blueprint / "organization.yaml").read_bytes()
    assert main(["account", "add", "x", "--ou", "Core", "--email", "x@example.com", "-b", str(blueprint),
                 "-o", str(folder), "--skip-external"]) == 3
    assert (blueprint / "organization.yaml").read_bytes() == yaml_before


def test_empty_folders_and_earlier_outputs_are_accepted(blueprint: Path, tmp_path: Path, built: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    build(blueprint, empty, validate=False)
    assert is_guardrails_output(empty) and is_guardrails_output(built)
    # a damaged manifest still counts when nothing but the build's folders (and Terraform's files) is there
    (built / "policies" / "manifest.json").write_text("")
    (built / ".terraform.lock.hcl").write_text("lock")
    assert is_guardrails_output(built)
    build(blueprint, built, validate=False)
    assert json.loads((built / "policies" / "manifest.json").read_text())["format"].startswith("guardrails-policies/")
    assert (built / ".terraform.lock.hcl").read_text() == "lock"
    (built / "policies" / "manifest.json").write_text("")
    (built / "README.md").write_text("mine")
    assert not is_guardrails_output(built)


def test_a_binary_file_in_the_output_does_not_break_later_builds(blueprint: Path, built: Path) -> None:
    plan = built / "terraform" / "organization" / "tfplan"
    plan.write_bytes(b"PK\x03\x04\x14\x00\x08\x00\xff\xfe binary plan")
    tree = read_tree(built)
    assert tree["terraform/organization/tfplan"].startswith("\0not UTF-8 text")
    result = build(blueprint, built, validate=False)
    assert result.removed == ["terraform/organization/tfplan"]
    assert not plan.exists()


# ----------------------------------------------------------------------------- files a blueprint references


def _federation(tmp_path: Path) -> Path:
    copy = tmp_path / "bp"
    shutil.copytree(FEDERATION, copy)
    return copy


def _point_metadata_at(blueprint: Path, target: str) -> None:
    identity = blueprint / "identity.yaml"
    identity.write_text(identity.read_text().replace("metadata_file: corp-metadata.xml", f"metadata_file: {target}"))


def _saml_errors(blueprint: Path) -> list[str]:
    with pytest.raises(BlueprintError) as raised:
        compile_blueprint(blueprint, run_tests=False)
    found = [d for d in raised.value.diagnostics if d.code == "GR313"]
    assert found and all(d.location is not None and d.location.line and d.hint for d in found)
    return [d.message for d in found]


def test_metadata_outside_the_blueprint_is_refused_and_never_copied(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = _federation(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET " + (blueprint / "corp-metadata.xml").read_text())
    _point_metadata_at(blueprint, "../secret.txt")
    assert main(["build", str(blueprint), "-o", str(tmp_path / "out"), "--no-validate"]) == 1
    err = capsys.readouterr().err
    assert "identity.yaml:11:" in err and "GR313" in err and "outside the blueprint directory" in err
    assert "hint: copy the IdP's metadata XML into" in err
    assert not (tmp_path / "out").exists()


def test_a_symbolic_link_out_of_the_blueprint_is_refused(tmp_path: Path) -> None:
    blueprint = _federation(tmp_path)
    outside = tmp_path / "elsewhere.xml"
    shutil.copy(blueprint / "corp-metadata.xml", outside)
    (blueprint / "corp-metadata.xml").unlink()
    (blueprint / "corp-metadata.xml").symlink_to(outside)
    assert any("outside the blueprint directory" in m for m in _saml_errors(blueprint))


@pytest.mark.parametrize(("content", "expected"), [
    ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">]>\n<md:EntityDescriptor '
     'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">&lol;</md:EntityDescriptor>', "has a DOCTYPE"),
    ("<notes>" + "x" * 1200 + "</notes>", "root element is 'notes'"),
    ("{ not xml " + "x" * 1200, "is not well-formed XML"),
    ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:SPSSODescriptor/>'
     + "<!-- " + "x" * 1200 + " --></md:EntityDescriptor>", "no IDPSSODescriptor"),
    ("<a/>", "1,000 to 10,000,000 characters"),
])
def test_metadata_must_be_saml_idp_metadata(tmp_path: Path, content: str, expected: str) -> None:
    blueprint = _federation(tmp_path)
    short = expected.startswith("1,000")
    (blueprint / "corp-metadata.xml").write_text(content if short else content.ljust(1000))
    assert any(expected in m for m in _saml_errors(blueprint))


def test_metadata_larger_than_a_megabyte_is_refused_unread(tmp_path: Path) -> None:
    blueprint = _federation(tmp_path)
    with open(blueprint / "corp-metadata.xml", "ab") as handle:
        handle.truncate(2 * 1024 * 1024)
    assert any("more than the 1 MB" in m for m in _saml_errors(blueprint))


def test_metadata_inside_the_blueprint_still_compiles(tmp_path: Path) -> None:
    blueprint = _federation(tmp_path)
    (blueprint / "idp").mkdir()
    (blueprint / "corp-metadata.xml").rename(blueprint / "idp" / "corp.xml")
    _point_metadata_at(blueprint, "idp/../idp/corp.xml")
    files = compile_blueprint(blueprint, run_tests=False).files
    assert any("EntityDescriptor" in text for text in files.values())


# ----------------------------------------------------------------------------- validate fails on tampered output


def _add_allow_all(out: Path) -> str:
    path = out / "policies" / "scp" / "guardrails-root.json"
    document = json.loads(path.read_text())
    document["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    path.write_text(json.dumps(document, indent=2) + "\n")
    return "policies/scp/guardrails-root.json"


def _not_json(out: Path) -> str:
    (out / "policies" / "scp" / "guardrails-root.json").write_text("{ not json")
    return "policies/scp/guardrails-root.json"


def _delete(out: Path) -> str:
    (out / "reports" / "summary.md").unlink()
    return "reports/summary.md"


def _add_tf(out: Path) -> str:
    (out / "terraform" / "organization" / "extra.tf").write_text('resource "aws_iam_user" "x" { name = "x" }\n')
    return "terraform/organization/extra.tf"


def _empty_manifest(out: Path) -> str:
    (out / "policies" / "manifest.json").write_text("")
    return "policies/manifest.json"


def _binary_plan(out: Path) -> str:
    (out / "terraform" / "organization" / "plan.out").write_bytes(b"PK\x03\x04\xff\xfe\x00")
    return "terraform/organization/plan.out"


def _binary_template(out: Path) -> str:
    (out / "cloudformation" / "organization.yaml").write_bytes(b"\xff\xfe\x00\x01")
    return "cloudformation/organization.yaml"


@pytest.mark.parametrize("tamper", [_add_allow_all, _not_json, _delete, _add_tf, _empty_manifest, _binary_plan,
                                    _binary_template])
def test_validate_fails_on_tampered_output_naming_the_file(blueprint: Path, built: Path, tamper: object,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(blueprint), "-o", str(built), "--skip-external"]) == 0
    capsys.readouterr()
    name = tamper(built)  # type: ignore[operator]
    code = main(["validate", str(blueprint), "-o", str(built), "--skip-external"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{name}" in err and "GR508" in err and "Traceback" not in err and "INTERNAL" not in err
    assert "not what the blueprint compiles to" in err


def test_validate_ignores_terraforms_own_files_but_notes_overrides(blueprint: Path, built: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    module = built / "terraform" / "organization"
    (module / ".terraform" / "providers").mkdir(parents=True)
    (module / ".terraform" / "providers" / "plugin").write_bytes(b"\x7fELF\x00\xff")
    (module / ".terraform.lock.hcl").write_text("lock")
    (module / "terraform.tfstate").write_text("{}")
    (module / "prod.tfvars").write_text("x = 1")
    (module / "backend.hcl").write_text('bucket = "b"')
    (module / "main_override.tf").write_text("# changes what apply does\n")
    capsys.readouterr()
    assert main(["validate", str(blueprint), "-o", str(built), "--skip-external"]) == 0
    err = capsys.readouterr().err
    assert "GR508" not in err and "override file(s)" in err and "terraform/organization/main_override.tf" in err


def test_validate_of_a_missing_output_is_one_clear_finding(blueprint: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(blueprint), "-o", str(tmp_path / "nowhere"), "--skip-external"]) == 2
    err = capsys.readouterr().err
    assert err.count("GR508") == 1 and "is missing: nothing to validate" in err


def test_an_allow_all_added_to_the_example_rcp_is_named(example_compiled: object) -> None:
    files = dict(example_compiled.files)  # type: ignore[attr-defined]
    path = "policies/rcp/guardrails-rcp-root.json"
    document = json.loads(files[path])
    document["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    tampered = {**files, path: json.dumps(document, indent=2) + "\n"}
    findings = drift_diagnostics(output_drift(files, tampered), Path("output"))
    assert [(d.code, d.location.file if d.location else None) for d in findings] == [("GR508", path)]
    assert findings[0].location is not None and findings[0].location.line > 1


# ----------------------------------------------------------------------------- user text is never markup


def test_markup_and_emoji_codes_in_paths_and_names_print_literally(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    blueprint = tmp_path / "bp[/]:100:[bold]"
    shutil.copytree(MINIMAL, blueprint)
    (blueprint / "tests.yaml").write_text(
        "tests:\n  'no leaving [/] :100: [red]x':\n    principal: role/BreakGlass\n    account: workload\n"
        "    action: organizations:LeaveOrganization\n    expect: deny\n")
    out = tmp_path / "out[/]:thumbs_up:"
    assert main(["build", str(blueprint), "-o", str(out), "--skip-external"]) == 0
    printed = capsys.readouterr().out
    assert "bp[/]:100:[bold]" in printed and "out[/]:thumbs_up:" in printed and "👍" not in printed
    assert main(["test", str(blueprint)]) == 0
    printed = capsys.readouterr().out
    assert "PASS no leaving [/] :100: [red]x" in printed
    assert main(["check", str(blueprint)]) == 0
    assert "bp[/]:100:[bold]" in capsys.readouterr().out


def test_a_location_on_line_100_is_not_an_emoji(blueprint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = blueprint / "organization.yaml"
    lines = path.read_text().splitlines()
    lines[1:1] = ["# padding"] * 97  # `organization:` moves to line 99, its first key to line 100
    lines.insert(99, "  nmae: typo")
    path.write_text("\n".join(lines) + "\n")
    assert main(["check", str(blueprint)]) == 1
    err = capsys.readouterr().err
    assert "organization.yaml:100:3" in err and "💯" not in err


def test_no_color_drops_every_style(blueprint: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "")
    (blueprint / "organization.yaml").write_text((blueprint / "organization.yaml").read_text() + "typo: 1\n")
    assert main(["check", str(blueprint)]) == 1
    assert "\x1b[" in capsys.readouterr().err  # styled when forced and NO_COLOR is unset (empty)
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["check", str(blueprint)]) == 1
    err = capsys.readouterr().err
    assert "\x1b[" not in err and "error GR" in err


# ----------------------------------------------------------------------------- internal errors become clear ones


def test_diff_report_into_a_missing_folder_is_a_clear_error(tmp_path: Path, blueprint: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "dir" / "r.json"
    assert main(["diff", str(blueprint), str(blueprint), "--format", "json", "-o", str(target)]) == 3
    err = capsys.readouterr().err
    assert "cannot write the report to" in err and "INTERNAL" not in err


def test_audit_with_a_bad_endpoint_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(MINIMAL), "--account", "workload", "--endpoint-url", "not a url"]) == 3
    err = capsys.readouterr().err
    assert "--endpoint-url 'not a url' is not an endpoint URL" in err and "INTERNAL" not in err


def test_sarif_into_a_folder_is_a_clear_error(blueprint: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(blueprint), "-o", str(tmp_path / "out"), "--no-validate", "--sarif",
                 str(tmp_path)]) == 3
    assert "is a directory" in capsys.readouterr().err


def test_write_output_keeps_nothing_half_done_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_output({"policies/manifest.json": '{"format": "guardrails-policies/1"}\n'}, out)
    before = _tree_bytes(out)

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(ToolError, match="No space left on device.*previous output is unchanged"):
        write_output({"policies/manifest.json": "{}\n", "reports/x.md": "x\n"}, out)
    monkeypatch.undo()
    assert _tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
