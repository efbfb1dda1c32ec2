"""The long, repeated parts of reports/index.html, rendered in Python: the OU tree, the accounts table's rows and the
access matrix's rows (about 1,000 + 1,000 + 900 items at 1,000 accounts, where Jinja's per-item macro and block calls
cost most of the page's time).

Every value is escaped with markupsafe's ``escape``, the function Jinja's autoescape calls for ``{{ value }}``
(jinja2.runtime imports the same one), so the markup is what report.html.j2's former macros wrote, byte for byte
(tests/test_html_rows.py renders both and compares). The results are ``Markup``: the template inserts them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape


class _Escaped(dict[str, str]):
    """``escape`` of each distinct string, computed once: the page repeats its OU paths, class keys, SCP names and
    principals hundreds of times (escape is a pure function of the string, so the memo cannot change a byte)."""

    def __missing__(self, text: str) -> str:
        value = self[text] = escape(text)
        return value


def _slots(slots: Mapping[str, Any], kind: str) -> str:
    # used and limit are ints: their decimal text has nothing to escape
    s = slots[kind]
    full = " full" if s["used"] >= s["limit"] else ""
    return f'<span class="slots{full}" data-slots="{kind}">{kind.upper()} {s["used"]:d}/{s["limit"]:d}</span>'


def _policies(slots: Mapping[str, Any]) -> str:
    """The SCPs and RCPs attached at one target, with their sizes; "" when none is."""
    items = [f'<li>{kind.upper()} <code>{escape(p["name"])}</code>{" (merged statements)" if p["merged"] else ""}: '
             f'<span class="size{" full" if p["percent"] >= 90 else ""}">{format(p["size"], ",")} of '
             f'{format(p["limit"], ",")} characters ({p["percent"]:d}%)</span> — {escape(p["what"])}</li>\n'
             for kind in ("scp", "rcp") for p in slots[kind]["policies"]]
    return "<ul>\n" + "".join(items) + "</ul>\n" if items else ""


def _unit(node: Mapping[str, Any], out: list[str]) -> None:
    """One OU (or the root) and everything under it, appended to ``out``."""
    out.append(f'<li id="{escape(node["id"])}" data-target="{escape(node["target"])}"><strong>{escape(node["name"])}'
               f'</strong> <code>{escape(node["target"])}</code> {_slots(node["slots"], "scp")} · '
               f'{_slots(node["slots"], "rcp")}\n{_policies(node["slots"])}\n')
    if node["units"] or node["accounts"] or node["pending"]:
        out.append("<ul>\n")
        for unit in node["units"]:
            _unit(unit, out)
        for a in node["accounts"]:
            name = escape(a["name"])
            out.append(f'<li class="account" data-target="account:{name}">account <a href="#account-{name}">{name}</a>'
                       f' ({escape(a["id"])}){", management" if a["management"] else ""} {_slots(a["slots"], "scp")} · '
                       f'{_slots(a["slots"], "rcp")}\n{_policies(a["slots"])}</li>\n')
        out.extend(f'<li class="account pending">account {escape(name)} (to be created)</li>\n'
                   for name in node["pending"])
        out.append("</ul>\n")
    out.append("</li>\n")


def tree(root: Mapping[str, Any]) -> Markup:
    """The OU tree's items (html_report._tree's nodes): root → OUs → accounts, each with its slots and policies."""
    out: list[str] = []
    _unit(root, out)
    return Markup("".join(out))


def _names(names: Sequence[str], esc: _Escaped) -> str:
    return ", ".join(esc[n] for n in names) or "—"


def account_rows(accounts: Iterable[Mapping[str, Any]]) -> Markup:
    """The accounts table's rows (html_report._accounts): what applies to each account, and its matrix group."""
    out, esc = [], _Escaped()
    for a in accounts:
        name = escape(a["name"])
        group = f'<a href="#{esc[a["group"][0]]}">{esc[a["group"][1]]}</a>' if a["group"] else "—"
        out.append(f'<tr id="account-{name}"><th scope="row">{name}{" (management)" if a["management"] else ""}</th>'
                   f'<td>{escape(a["id"])}</td><td>{esc[a["unit"]]}</td><td>{esc[a["class"]]}</td>'
                   f'<td>{_names(a["scps"], esc)}</td><td>{_names(a["rcps"], esc)}</td><td>{group}</td>'
                   f'<td><a href="accounts/{name}.md">{name}.md</a></td></tr>\n')
    return Markup("".join(out))


def _cell(outcome: str, detail: str, slug: Callable[[str], str], max_detail: int) -> str:
    """A matrix cell: the outcome names the layer that decided; the title holds the start of the evaluator's summary."""
    detail = detail[:max_detail]
    title = f' title="{escape(detail)}"' if detail else ""
    return f'<td class="o-{escape(slug(outcome))}"{title}>{escape(outcome)}</td>'


def matrix_rows(rows: Iterable[tuple[str, Iterable[Any]]], slug: Callable[[str], str], max_detail: int) -> Markup:
    """One matrix group's rows (access_matrix.Group.rows: principal, one Cell per probe) → a ``<tr>`` per principal.

    Each distinct (outcome, detail) is rendered once: a cell's markup is a pure function of those two strings, and
    the cells repeat (27 distinct among the ~8,000 of a 1,000-account page)."""
    cells: dict[tuple[str, str], str] = {}
    out = []
    for principal, row in rows:
        tds = []
        for c in row:
            key = (c.outcome, c.detail)
            tds.append(cells[key] if key in cells else cells.setdefault(key, _cell(*key, slug, max_detail)))
        out.append(f'<tr><th scope="row">{escape(principal)}</th>{"".join(tds)}</tr>\n')
    return Markup("".join(out))
