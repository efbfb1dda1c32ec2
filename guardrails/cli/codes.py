"""Exit codes of every command (docs/ci.md lists them)."""

from __future__ import annotations

EXIT_OK, EXIT_BLUEPRINT, EXIT_VALIDATION, EXIT_INTERNAL = 0, 1, 2, 3
