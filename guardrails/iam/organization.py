"""Organization paths: where an account sits and which policy targets its requests pass through.

OU paths are slash-joined names from the root (``Workloads/Prod``; ``""`` is the root itself). Policy targets are
``root``, ``ou:PATH`` and ``account:NAME``. An SCP or RCP attached to any target on an account's path applies to
it, and every level must allow a request
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html).
"""

from __future__ import annotations

from collections.abc import Iterable

ROOT_TARGET = "root"


def in_unit(unit: str, ancestor: str) -> bool:
    """Is the OU ``unit`` the OU ``ancestor`` or nested inside it? The root (``""``) contains every OU."""
    return not ancestor or unit == ancestor or unit.startswith(ancestor + "/")


def in_any_unit(unit: str, ancestors: Iterable[str]) -> bool:
    return any(in_unit(unit, a) for a in ancestors)


def unit_chain(unit: str) -> list[str]:
    """The OUs from the top down to ``unit``: ``A/B`` → ``["A", "A/B"]``; the root → ``[]``."""
    parts = unit.split("/") if unit else []
    return ["/".join(parts[:i + 1]) for i in range(len(parts))]


def policy_targets(unit: str, account: str) -> list[str]:
    """The policy targets from the root down to an account: ``root``, ``ou:A``, ``ou:A/B``, ``account:NAME``."""
    return [ROOT_TARGET, *(f"ou:{u}" for u in unit_chain(unit)), f"account:{account}"]


def outermost(units: Iterable[str]) -> list[str]:
    """The units not nested in another of them, sorted: attaching there covers the rest."""
    full = set(units)
    return sorted(u for u in full if not any(u != p and in_unit(u, p) for p in full))
