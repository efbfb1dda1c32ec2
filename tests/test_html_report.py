"""reports/index.html and `guardrails diff --format html` in a real browser: Debian's headless Chromium, driven by
playwright (never `playwright install`: the browser is the system's). Screenshots go to tests/artifacts/.

Without Chromium (or playwright) the browser tests skip, unless GUARDRAILS_REQUIRE_BROWSER=1 (the Makefile sets
it), so `make test` fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guardrails.cli import main
from guardrails.emitters.html_report import diff_page
from guardrails.pipeline import Compiled

from .conftest import ROOT
from .test_cli_review import WIDENED_DEVELOPER

ARTIFACTS = ROOT / "tests" / "artifacts"


def _chromium() -> str | None:
    for candidate in (os.environ.get("GUARDRAILS_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    required = os.environ.get("GUARDRAILS_REQUIRE_BROWSER") == "1"
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        why = ("no Chromium (Debian: apt-get install chromium, or GUARDRAILS_CHROMIUM=PATH) or no playwright "
               "(pip install -c .ci/main.lock playwright)")
        if required:
            pytest.fail(f"GUARDRAILS_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    with sync_playwright() as playwright:
        # --no-sandbox: containers and CI runners as root have no user namespace for Chromium's sandbox.
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def _load(browser: Any, path: Path, screenshot: str) -> tuple[Any, list[str]]:
    """Open ``path`` (file://), keep every console error and page error, screenshot the whole page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith("file://") else
            errors.append(f"request outside the page: {request.url}"))
    page.goto(path.as_uri(), wait_until="load")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    return page, errors


@pytest.fixture(scope="module")
def report_dir(example_compiled: Compiled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's reports/ as a build writes them (the page links the Markdown reports beside it)."""
    out = tmp_path_factory.mktemp("output")
    for name, text in example_compiled.files.items():
        if name.startswith("reports/"):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text, encoding="utf-8")
    return out / "reports"


def test_the_report_is_self_contained_and_deterministic(example_compiled: Compiled) -> None:
    html = example_compiled.files["reports/index.html"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no URL outside the page"
    assert "<script" not in html and "@import" not in html and "url(" not in html
    from guardrails.pipeline import compile_blueprint

    again = compile_blueprint(ROOT / "blueprints").files["reports/index.html"]
    assert again == html


def test_the_report_renders_in_chromium(browser: Any, report_dir: Path, example_compiled: Compiled) -> None:
    plan = example_compiled.plan
    page, errors = _load(browser, report_dir / "index.html", "report.png")
    assert errors == []
    assert page.title() == f"Organization {plan.org.name}"
    # OU tree: every OU and account, with the slot counts of the plan.
    root_scps = 1 + sum(1 for p in plan.scps if p.target == "root")
    slots = plan.limits["scps_per_target"].value
    assert page.inner_text("#ou-root [data-slots=scp] >> nth=0") == f"SCP {root_scps}/{slots}"
    for unit in plan.units:
        assert page.locator(f'li[data-target="ou:{unit.path}"]').count() == 1, unit.path
    assert page.locator("li.account").count() == len(plan.accounts) + len(plan.pending_accounts)
    first = next(p for p in plan.scps if p.target == "root")
    size = len(first.document.render(minified=True))
    assert f"{size:,} of {plan.limits['scp_chars'].value:,} characters" in page.inner_text("#ou-root")
    # What applies per account: one row each, linked to its Markdown report.
    assert page.locator("#accounts-table tbody tr").count() == len(plan.accounts)
    assert page.get_attribute("#account-app-dev a[href$='.md']", "href") == "accounts/app-dev.md"
    # The matrix: one table per group, BreakGlass allowed to list instances, the root user of a member account
    # denied by the SCPs (deny-root-user), a leave-organization request denied by an SCP for everyone.
    tables = page.locator("table.matrix")
    assert tables.count() >= len(plan.classes)
    audit = page.locator("table.matrix[data-class=audit]")
    header = audit.locator("thead th").all_inner_texts()
    row = audit.locator("tr", has=page.locator("th", has_text=re.compile(r"^role/BreakGlass$")))
    cells = dict(zip(header[1:], row.locator("td").all_inner_texts(), strict=True))
    assert cells["ec2-read"] == "allowed" and cells["leave-org"] == "SCP"
    root = audit.locator("tr", has=page.locator("th", has_text=re.compile(r"^root$"))).locator("td")
    assert set(root.all_inner_texts()) == {"SCP"}
    assert "explicit deny: SCP" in root.first.get_attribute("title")
    # Escalation and lockout sections, from the evaluator's runs of this compilation.
    assert page.locator("#escalation-table tbody tr").count() == len(plan.classes)
    assert page.locator("#lockout-table tbody tr").count() >= 3
    assert "break-glass" in page.inner_text("#lockout-table")
    assert example_compiled.lockout is not None
    assert f"{example_compiled.lockout.combinations['break-glass']:,}" in page.inner_text("#lockout-table")


def test_the_diff_page_renders_in_chromium(browser: Any, tmp_path: Path) -> None:
    blueprint = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprint)
    identity = blueprint / "identity.yaml"
    head = "  developer:\n    library: workload-developer\n    parameters: {name_prefix: app-}\n"
    identity.write_text(identity.read_text(encoding="utf-8").replace(head, WIDENED_DEVELOPER), encoding="utf-8")
    page_file = tmp_path / "diff.html"
    assert main(["diff", str(ROOT / "output"), str(blueprint), "--format", "html", "-o", str(page_file), "-q"]) == 0
    page, errors = _load(browser, page_file, "diff.png")
    assert errors == []
    assert "2 principals gain 2 actions in 3 accounts" in page.inner_text("#summary")
    risks = page.locator("#risks-table tbody tr", has_text="privilege-escalation/attach-policy")
    assert risks.count() >= 1 and "high" in risks.first.inner_text()
    developers = page.locator("section.principal", has=page.locator("h3", has_text="group/developers"))
    assert "AttachRolePolicy, PutRolePolicy" in developers.inner_text()


def test_the_diff_page_escapes_what_it_shows() -> None:
    html = diff_page({"summary": "<b>x</b>", "base": "a", "head": "b", "iam_database": "v", "notes": [],
                      "risks": [], "principals": [], "organization_policies": [], "wildcards": [], "replacements": [],
                      "accounts": []})
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_every_matrix_cell_is_the_evaluators_answer(example_compiled: Compiled) -> None:
    """Each cell, asked again through Organization.evaluate: allowed exactly when the evaluator allows, and the layer
    named is the one in the evaluator's summary."""
    from guardrails.evaluation.access_matrix import ALLOWED, IDENTITY, SCP, access_matrix

    organization = example_compiled.organization
    matrix = access_matrix(organization)
    assert {a for g in matrix.groups for a in g.accounts} == set(organization.accounts)
    layers = set()
    for group in matrix.groups:
        account = organization.account(group.representative)
        for principal, cells in group.rows:
            for probe, cell in zip(matrix.probes, cells, strict=True):
                decision = organization.evaluate(principal, account.name, probe.action,
                                                 organization.expand(probe.resource, account))
                assert (cell.outcome == ALLOWED) == decision.allowed, (group.representative, principal, probe.id)
                assert cell.detail in ("", decision.summary)
                if cell.outcome == SCP:
                    assert "SCP" in decision.summary
                layers.add(cell.outcome)
    assert {ALLOWED, SCP, IDENTITY} <= layers
