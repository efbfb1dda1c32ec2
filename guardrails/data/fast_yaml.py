"""``yaml.safe_load`` for the shipped data files, with libyaml's parser when PyYAML was built with it.

The values are the same (``CSafeLoader`` builds them with SafeLoader's constructors and resolver; tests/
test_fast_commands.py compares every data file); parsing is about ten times faster, which a pre-commit ``check``
notices: it reads a few dozen of these files. A text libyaml rejects is parsed again by the pure-Python loader, so
an error reads as it always did.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", None)


def safe_load(text: str) -> Any:
    """The text's value, as :func:`yaml.safe_load` returns it."""
    if _LOADER is None:
        return yaml.safe_load(text)
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (SafeConstructor)
    except yaml.YAMLError:
        return yaml.safe_load(text)  # raises the pure-Python loader's error
