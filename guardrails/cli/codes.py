"""Exit codes of every command (README.md, "Exit codes", lists them).

Usage errors (an unknown option, a missing argument) exit 64, sysexits.h's EX_USAGE, instead of argparse's 2: here 2
means validation findings, and CI must not read a mistyped command as findings.
"""

from __future__ import annotations

EXIT_OK, EXIT_BLUEPRINT, EXIT_VALIDATION, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_USAGE = 64
