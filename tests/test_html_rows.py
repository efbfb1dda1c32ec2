"""guardrails.emitters.html_rows (the report page's OU tree, accounts rows and matrix rows, rendered in Python for
speed) writes exactly what the Jinja macros it replaced wrote: the reference below is report.html.j2's former text,
rendered with the page's own environment (autoescape on), on the example, a synthetic organization and hostile text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guardrails.emitters import html_report, html_rows
from guardrails.evaluation.access_matrix import Cell, access_matrix
from guardrails.pipeline import Compiled, compile_blueprint

from .bench import write_blueprint

REFERENCE = """\
{% macro slots(s, kind) -%}
<span class="slots{% if s[kind].used >= s[kind].limit %} full{% endif %}" data-slots="{{ kind }}">{{ kind | upper }} {{ s[kind].used }}/{{ s[kind].limit }}</span>
{%- endmacro %}
{% macro policies(s) %}
{% if s.scp.policies or s.rcp.policies %}
<ul>
{% for kind in ("scp", "rcp") %}
{% for p in s[kind].policies %}
<li>{{ kind | upper }} <code>{{ p.name }}</code>{% if p.merged %} (merged statements){% endif %}: <span class="size{% if p.percent >= 90 %} full{% endif %}">{{ "{:,}".format(p.size) }} of {{ "{:,}".format(p.limit) }} characters ({{ p.percent }}%)</span> — {{ p.what }}</li>
{% endfor %}
{% endfor %}
</ul>
{% endif %}
{% endmacro %}
{% macro unit(n) %}
<li id="{{ n.id }}" data-target="{{ n.target }}"><strong>{{ n.name }}</strong> <code>{{ n.target }}</code> {{ slots(n.slots, "scp") }} · {{ slots(n.slots, "rcp") }}
{{ policies(n.slots) }}
{% if n.units or n.accounts or n.pending %}
<ul>
{% for u in n.units %}{{ unit(u) }}{% endfor %}
{% for a in n.accounts %}
<li class="account" data-target="account:{{ a.name }}">account <a href="#account-{{ a.name }}">{{ a.name }}</a> ({{ a.id }}){% if a.management %}, management{% endif %} {{ slots(a.slots, "scp") }} · {{ slots(a.slots, "rcp") }}
{{ policies(a.slots) }}</li>
{% endfor %}
{% for name in n.pending %}<li class="account pending">account {{ name }} (to be created)</li>
{% endfor %}
</ul>
{% endif %}
</li>
{% endmacro %}
{% macro account_rows(accounts) %}
{% for a in accounts %}
<tr id="account-{{ a.name }}"><th scope="row">{{ a.name }}{% if a.management %} (management){% endif %}</th><td>{{ a.id }}</td><td>{{ a.unit }}</td><td>{{ a.class }}</td><td>{{ a.scps | join(", ") or "—" }}</td><td>{{ a.rcps | join(", ") or "—" }}</td><td>{% if a.group %}<a href="#{{ a.group[0] }}">{{ a.group[1] }}</a>{% else %}—{% endif %}</td><td><a href="accounts/{{ a.name }}.md">{{ a.name }}.md</a></td></tr>
{% endfor %}
{% endmacro %}
{% macro matrix_rows(rows) %}
{% for r in rows %}
<tr><th scope="row">{{ r.principal }}</th>{% for c in r.cells %}<td class="o-{{ c.slug }}"{% if c.detail %} title="{{ c.detail }}"{% endif %}>{{ c.outcome }}</td>{% endfor %}</tr>
{% endfor %}
{% endmacro %}
"""

HOSTILE = "<b a=\"1\" b='2'>&amp; & é —</b>"


def _reference() -> Any:
    return html_report.environment().from_string(REFERENCE).module


def _plain_rows(rows: Any) -> list[dict[str, Any]]:
    """A group's rows as the page built them before html_rows: one dict per cell, every cell sliced and slugged."""
    return [{"principal": p, "cells": [{"outcome": c.outcome, "slug": html_report._slug(c.outcome),
                                        "detail": c.detail[:html_report.MAX_DETAIL]} for c in cells]}
            for p, cells in rows]


def _assert_same(compiled: Compiled) -> None:
    plan, ref = compiled.plan, _reference()
    index = html_report._Index.of(plan)
    groups, group_of = html_report._matrix(access_matrix(compiled.organization).groups)
    tree = html_report._tree(plan, index)
    accounts = html_report._accounts(plan, index, group_of)
    assert str(html_rows.tree(tree)) == str(ref.unit(tree))
    assert str(html_rows.account_rows(accounts)) == str(ref.account_rows(accounts))
    for group, shown in zip(access_matrix(compiled.organization).groups, groups, strict=True):
        assert str(shown["rows"]) == str(ref.matrix_rows(_plain_rows(group.rows)))


def test_the_example_renders_as_the_macros_did(example_compiled: Compiled) -> None:
    _assert_same(example_compiled)


def test_a_synthetic_organization_renders_as_the_macros_did(tmp_path: Path) -> None:
    _assert_same(compile_blueprint(write_blueprint(tmp_path / "bp", 60)))


def test_scans_and_indexes_agree(example_compiled: Compiled) -> None:
    """The page's one-pass index answers what the plan's own lookups answer."""
    plan = example_compiled.plan
    index = html_report._Index.of(plan)
    for account in plan.accounts:
        cls = plan.class_of(account.name)
        assert index.class_of.get(account.name, "—") == (cls.key if cls else "—")
    for target in {"root", *(f"ou:{u.path}" for u in plan.units), *(f"account:{a.name}" for a in plan.accounts)}:
        assert index.scps.get(target, []) == [p for p in plan.scps if p.target == target]
        assert index.rcps.get(target, []) == [p for p in plan.rcps if p.target == target]


@pytest.mark.parametrize("percent", [0, 89, 90, 100])
def test_hostile_text_is_escaped_as_jinja_escapes_it(percent: int) -> None:
    policy = {"name": HOSTILE, "size": 1234567, "limit": 5120, "percent": percent, "what": HOSTILE, "merged": True}
    slots = {"scp": {"used": 5, "limit": 5, "policies": [policy]}, "rcp": {"used": 1, "limit": 5, "policies": []}}
    empty = {"scp": {"used": 1, "limit": 5, "policies": []}, "rcp": {"used": 1, "limit": 5, "policies": []}}
    account = {"name": HOSTILE, "id": HOSTILE, "management": True, "slots": slots}
    leaf = {"name": HOSTILE, "target": "ou:" + HOSTILE, "id": HOSTILE, "slots": empty, "units": [], "accounts": [],
            "pending": []}
    root = {"name": HOSTILE, "target": HOSTILE, "id": "ou-root", "slots": slots, "units": [leaf],
            "accounts": [account, {**account, "management": False, "slots": empty}], "pending": [HOSTILE, "x"]}
    rows = [{"name": HOSTILE, "id": "1", "unit": HOSTILE, "management": True, "class": HOSTILE,
             "scps": [HOSTILE, "b"], "rcps": [], "group": ("matrix-1", HOSTILE)},
            {"name": "a", "id": "2", "unit": "(root)", "management": False, "class": "—", "scps": [], "rcps": [HOSTILE],
             "group": None}]
    cells = ((HOSTILE, (Cell(HOSTILE, HOSTILE * 40), Cell("allowed", ""), Cell(HOSTILE, HOSTILE * 40))),
             ("p", (Cell("no grant", HOSTILE), Cell("allowed", ""))))
    ref = _reference()
    assert str(html_rows.tree(root)) == str(ref.unit(root))
    assert str(html_rows.account_rows(rows)) == str(ref.account_rows(rows))
    matrix = html_rows.matrix_rows(cells, html_report._slug, html_report.MAX_DETAIL)
    assert str(matrix) == str(ref.matrix_rows(_plain_rows(cells)))
    assert "<b " not in matrix and "&lt;b a=&#34;1&#34; b=&#39;2&#39;&gt;&amp;amp;" in matrix
