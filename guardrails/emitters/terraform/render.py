"""The Jinja environment of the Terraform templates, ``terraform fmt`` alignment, and the files every root module
has (versions.tf, backend.tf, providers.tf).

Templates live in ``guardrails/emitters/templates/terraform``. They write two-space indentation; :func:`align` then
lines up the ``=`` of consecutive single-line attributes exactly as ``terraform fmt`` (hclwrite's formatCells)
does, so the output is canonical without running Terraform (the tests check it with the real formatter).

checkov: entries of ``guardrails/data/suppressions.yaml`` with format terraform (or both) become
``#checkov:skip=CHECK:reason`` lines inside the matching block (the template global ``suppressions``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

import jinja2

from guardrails.emitters import header_text
from guardrails.emitters.suppressions import Suppression, suppressions_for
from guardrails.emitters.terraform.hcl import (
    Hcl,
    boolean,
    comment,
    file_name,
    ident,
    number,
    quote,
    quote_list,
    ref,
    ref_list,
    skip,
)
from guardrails.policies.ir import Plan

ROOT = "terraform"
REQUIRED_VERSION = ">= 1.7"  # import blocks 1.5, removed blocks 1.7 (versions.tf.j2)
AWS_PROVIDER = "~> 6.0"


def _suppressions(kind: str, key: str, accepted: tuple[tuple[str, str], ...] = ()) -> list[Suppression]:
    """The reasoned package suppressions for one resource, then the findings the blueprint accepts for it."""
    found = suppressions_for("terraform", kind, key)
    checks = {s.check for s in found}
    found += [Suppression(check, "terraform", kind, key, reason) for check, reason in accepted if check not in checks]
    return found


def _finalize(value: object) -> str:
    if isinstance(value, Hcl):
        return value.text
    raise TypeError(f"unescaped value in a Terraform template: {value!r} (pass it through a filter such as |q)")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("guardrails.emitters", "templates/terraform"),
        undefined=jinja2.StrictUndefined, finalize=_finalize, autoescape=False,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(q=quote, ident=ident, ref=ref, num=number, bool=boolean, qlist=quote_list,
                       rlist=ref_list, comment=comment, skip=skip, file_name=file_name)
    env.globals.update(suppressions=_suppressions)
    return env


# ----------------------------------------------------------------------------- formatting

_ASSIGN = re.compile(r'( *)([A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*") += (.*)')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


_BRACKET = re.compile(r"[][{}()]")


def _net_brackets(expression: str) -> int:
    # Inside our strings the only template sequences are complete "${var.x}" interpolations (net zero).
    if not _BRACKET.search(expression):
        return 0
    bare = _STRING.sub('""', expression)
    return sum(bare.count(c) for c in "{[(") - sum(bare.count(c) for c in "}])")


def align(text: str) -> str:
    """Align ``=`` of consecutive one-line attributes like hclwrite's formatCells; tidy blank lines."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    chain: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(lead) for lead, _ in chain), default=0)
        out.extend(f"{lead.ljust(width)} = {rest}" for lead, rest in chain)
        chain.clear()

    for line in lines:
        match = _ASSIGN.fullmatch(line) if " = " in line else None  # every match has " = "
        if match and _net_brackets(match.group(3)) == 0:
            chain.append((match.group(1) + match.group(2), match.group(3)))
            continue
        if chain:
            flush()
        if line == "" and (not out or out[-1] == "" or out[-1].endswith("{")):
            continue  # no leading, doubled or block-opening blank lines
        if line.strip() == "}" and out and out[-1] == "":
            out.pop()
        out.append(line)
    flush()
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- rendering


def render(plan: Plan, template: str, **context: object) -> str:
    """One template as a file: the provenance header, the body, aligned."""
    if not context:
        return _static(header_text(plan), template)
    body = environment().get_template(template).render(**context)
    return align(f"# {comment(header_text(plan)).text}\n\n{body}")


@cache
def _static(header: str, template: str) -> str:
    # A template without context (variables.tf, the headings of roles.tf...) is the same text in every module
    # that has it (22 modules at 1,000 accounts): rendered once per header.
    body = environment().get_template(template).render()
    return align(f"# {comment(header).text}\n\n{body}")


Blocks = dict[tuple[object, ...], str]
"""Memo of :func:`block`: (template, context items) → aligned text; one per emit, shared by every module."""


def block(memo: Blocks | None, template: str, **context: object) -> str:
    """One template rendered without header, aligned: the blocks of one principal (a role with its trust and
    attachments, a group, a managed policy), for :func:`assemble`.

    The same principal is in many classes (41 principals x 22 classes at 1,000 accounts, ~200 distinct), so it is
    rendered once per distinct context. The memo key is the template and its whole context, plan values compared by
    value (frozen dataclasses, tuples, strings), never by id: a template is a pure function of its context (its
    filters and ``suppressions`` read only their arguments and the packaged suppressions), so an equal key gives
    the same text. The only fields equality ignores (``origin``) are diagnostics that no template writes. ``memo`` None renders every time (the plain path tests/test_terraform_blocks.py compares)."""
    key = (template, *context.items())  # keyword order is the call site's: at worst a miss, never a wrong hit
    text = memo.get(key) if memo is not None else None  # one lookup: hashing a principal walks its documents
    if text is None:
        text = align(environment().get_template(template).render(**context))
        if memo is not None:
            memo[key] = text
    return text


Block = tuple[str, dict[str, object]]
"""A template and its context: the blocks of one principal."""


def render_blocks(plan: Plan, heading: str, blocks: Iterable[Block], memo: Blocks | None) -> str:
    """A file of principals: the ``heading`` template with the header, then each block (:func:`block`)."""
    return assemble(render(plan, heading), (block(memo, template, **context) for template, context in blocks))


def assemble(head: str, blocks: Iterable[str]) -> str:
    """``head`` (an aligned file) and the aligned ``blocks`` after it, one blank line apart: the same text as
    aligning the whole concatenation once. align's state never crosses a blank line: the chain of ``=`` lines ends
    at it, and of the blank lines between two pieces it keeps exactly one (``head`` ends with a comment or ``}``,
    never ``{``, and a block never begins with ``}``)."""
    return head + "".join("\n" + text for text in blocks if text.strip())


def versions(plan: Plan, *, root: bool) -> str:
    """versions.tf: root modules also pin Terraform itself; child modules only name their provider."""
    return _versions(header_text(plan), root)


@cache
def _versions(header: str, root: bool) -> str:
    # The same text in every root module (1,000 of them in a 1,000-account organization): rendered once.
    body = environment().get_template("versions.tf.j2").render(
        root=root, required_version=REQUIRED_VERSION, aws_provider=AWS_PROVIDER)
    return align(f"# {comment(header).text}\n\n{body}")


def root_files(plan: Plan, directory: str, state_key: str, account_id: str, role: str,
               aliases: Sequence[tuple[str, str]] = (), region: str | None = None) -> dict[str, str]:
    """versions.tf, backend.tf and providers.tf of a root module deployed into ``account_id`` through ``role``
    (``aliases``: (alias, region) of extra providers; ``region``: the provider's, the home region by default)."""
    role_arn = f"arn:{plan.org.partition}:iam::{account_id}:role/{role}"
    return {
        f"{directory}/versions.tf": versions(plan, root=True),
        f"{directory}/backend.tf": render(plan, "backend.tf.j2", state_key=state_key),
        f"{directory}/providers.tf": render(plan, "providers.tf.j2", region=region or plan.org.home_region,
                                            role_arn=role_arn, account_id=account_id, aliases=list(aliases)),
    }
