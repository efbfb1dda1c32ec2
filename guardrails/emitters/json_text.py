"""``json.dumps(value, indent=2, ensure_ascii=False)``, twice as fast, for the policy tree's large files.

With ``indent`` the standard library encodes in pure Python (its C encoder serves only compact output): the manifest
of 1,000 accounts took 11 ms that way, before the escalation worker can start. Here strings go through the C
function ``json`` itself uses (``encode_basestring``) and the layout is joined around them: the same text byte for
byte (tests/test_json_text.py compares the two on generated values and on the committed manifests).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # what json.dumps(..., ensure_ascii=False) calls for every string
from typing import Any


def pretty_json(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``. Dicts with string keys, lists, strings, ints, bools and
    None are laid out here; anything else (a float, a tuple, a subclass, a non-string key) is left to ``json.dumps``
    for the whole value, its errors included."""
    try:
        return _laid_out(value, "\n")
    except _Unusual:
        return json.dumps(value, indent=2, ensure_ascii=False)


class _Unusual(Exception):
    """A value this module does not lay out itself."""


def _laid_out(value: Any, newline: str) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + "  "
        items = []
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            items.append(f"{encode_basestring(key)}: "
                         f"{encode_basestring(item) if type(item) is str else _laid_out(item, inner)}")
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join(
            [encode_basestring(item) if type(item) is str else _laid_out(item, inner) for item in value]) + newline + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    raise _Unusual
