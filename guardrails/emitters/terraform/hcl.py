"""HCL values: the filters that escape and check every value a Terraform template writes, and resource names.

Every ``{{ … }}`` of a template must produce an :class:`Hcl` value, made only by these filters (``q`` quotes and
escapes a string, ``ident``/``ref``/``num``/``bool`` check their input); the Jinja ``finalize`` hook
(:mod:`.render`) raises for anything else, so no value reaches HCL unescaped. ``q`` renders the IR placeholders
``${account_id}``/``${region}`` as ``${var.account_id}``/``${var.region}`` and escapes every other ``${``/``%{``
(IAM policy variables such as ``${aws:username}``) as ``$${``/``%%{``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jinja2

from guardrails.emitters.suppressions import Suppression
from guardrails.policies.ir import ACCOUNT_ID, REGION, PolicyDocument


@dataclass(frozen=True)
class Hcl:
    """A fragment of HCL that a filter produced; the only thing templates may output."""

    text: str

    def __str__(self) -> str:
        return self.text


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])+")
_PLACEHOLDERS = {ACCOUNT_ID: "var.account_id", REGION: "var.region"}
_PLACEHOLDER_SPLIT = re.compile("(" + "|".join(re.escape(p) for p in _PLACEHOLDERS) + ")")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _expect(value: object, kind: type, what: str) -> None:
    """Filters take exactly one type; a StrictUndefined raises its own error here."""
    if isinstance(value, jinja2.Undefined):
        str(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {what}, got {value!r}")


# Text without any of these is its own escape (the loop below changes nothing, and no template sequence appears).
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]|\$\{|%\{')


def _escape_literal(text: str) -> str:
    """Escape literal text for the inside of an HCL quoted template string."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    out = []
    for ch in text:
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    # Template sequences: https://developer.hashicorp.com/terraform/language/expressions/strings#escape-sequences-1
    return "".join(out).replace("${", "$${").replace("%{", "%%{")


def quote(value: str) -> Hcl:
    """An HCL string for ``value``: escaped, with the IR placeholders turned into variable references."""
    _expect(value, str, "a string")
    return _quote(value)


@lru_cache(maxsize=1 << 16)
def _quote(value: str) -> Hcl:  # the same ARNs, actions and names recur in every module of a large organization
    if value in _PLACEHOLDERS:
        return Hcl(_PLACEHOLDERS[value])  # a lone interpolation: `terraform fmt` unwraps "${x}" to x
    pieces = _PLACEHOLDER_SPLIT.split(value)  # literal, placeholder, literal, …
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            parts.append("${" + _PLACEHOLDERS[piece] + "}")
            continue
        dollars = ""
        if index + 1 < len(pieces):
            # A "$" right before an interpolation would turn it into the escape "$${": write such dollars
            # as an interpolated string literal instead.
            dollars = piece[len(piece.rstrip("$")):]
            piece = piece.rstrip("$")
        parts.append(_escape_literal(piece) + (f'${{"{dollars}"}}' if dollars else ""))
    return Hcl('"' + "".join(parts) + '"')


def ident(value: str) -> Hcl:
    """A Terraform identifier (resource name, block label), checked."""
    _expect(value, str, "an identifier")
    if not _IDENT.fullmatch(value):
        raise ValueError(f"not a Terraform identifier: {value!r}")
    return Hcl(value)


def ref(value: str) -> Hcl:
    """A reference expression such as ``aws_iam_role.x.arn``, checked."""
    _expect(value, str, "a reference")
    if not _REF.fullmatch(value):
        raise ValueError(f"not a Terraform reference: {value!r}")
    return Hcl(value)


def number(value: int) -> Hcl:
    _expect(value, int, "an integer")
    return Hcl(str(value))


def boolean(value: bool) -> Hcl:
    _expect(value, bool, "a boolean")
    return Hcl("true" if value else "false")


def _hcl_list(items: Sequence[Hcl], level: int) -> Hcl:
    """One item inline, more one per line (readable diffs); ``level`` is the attribute's indent level."""
    if len(items) <= 1:
        return Hcl("[" + "".join(i.text for i in items) + "]")
    pad = "  " * (level + 1)
    return Hcl("[\n" + "".join(f"{pad}{i.text},\n" for i in items) + "  " * level + "]")


def quote_list(values: Iterable[str], level: int) -> Hcl:
    return _hcl_list([quote(v) for v in values], level)


def ref_list(values: Iterable[str], level: int) -> Hcl:
    return _hcl_list([ref(v) for v in values], level)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def comment(text: str) -> Hcl:
    """Text for a ``#`` comment line: one line, no control characters."""
    _expect(text, str, "comment text")
    if _CONTROL.search(text):
        raise ValueError(f"not a one-line comment: {text!r}")
    return Hcl(text)


def skip(suppression: Suppression) -> Hcl:
    """A checkov skip comment (https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html)."""
    if not re.fullmatch(r"CKV2?_[A-Z0-9_]+", suppression.check):
        raise ValueError(f"not a checkov check id: {suppression.check!r}")
    return Hcl(f"#checkov:skip={suppression.check}:{comment(suppression.reason).text}")


def file_name(path: str) -> Hcl:
    """A relative file path for use inside a quoted string: only characters that need no escaping."""
    _expect(path, str, "a file path")
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*", path):
        raise ValueError(f"not a plain relative file path: {path!r}")
    return Hcl(path)


def check_documents(documents: Iterable[PolicyDocument]) -> None:
    """aws_iam_policy_document turns every ``&{`` into ``${`` (its old policy-variable syntax), so a literal
    ``&{`` cannot be expressed through it; refuse rather than grant something else. Each distinct document once
    (equal documents render equal text; a class's documents repeat in every class)."""
    for document in dict.fromkeys(documents):
        if "&{" in document.render():
            raise ValueError(f"a policy document contains '&{{', which aws_iam_policy_document would turn into "
                             f"'${{': {document.render(minified=True)[:200]}")


# ----------------------------------------------------------------------------- names


def tf_name(text: str) -> str:
    """A resource name from a human name or path: ``Workloads/Prod`` → ``workloads_prod``."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name if name[:1].isalpha() else f"n_{name}"


def unique(names: dict[str, str], what: str) -> dict[str, str]:
    """``names`` (source → Terraform name) unchanged; raises if two sources map to the same name."""
    seen: dict[str, str] = {}
    for source, name in names.items():
        if name in seen:
            raise ValueError(f"{what} {source!r} and {seen[name]!r} map to the same Terraform name {name!r}")
        seen[name] = source
    return names


def path_segment(name: str) -> str:
    """``name`` as one directory or file name, checked."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"not usable as a directory or file name: {name!r}")
    return name
