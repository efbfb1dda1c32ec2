"""The proof: every check run in order over one shared search, findings merged across accounts."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from guardrails.evaluation.lockout.break_glass import (
    Declarations,
    Quarantine,
    prove_break_glass,
    prove_break_glass_entry,
    prove_quarantine,
)
from guardrails.evaluation.lockout.coverage import Coverage
from guardrails.evaluation.lockout.deployment import prove_deployment
from guardrails.evaluation.lockout.findings import LockoutFinding
from guardrails.evaluation.lockout.mfa import prove_mfa_enrollment
from guardrails.evaluation.lockout.principals import Principals
from guardrails.evaluation.lockout.search import Search
from guardrails.evaluation.organization import Organization


@dataclass(frozen=True)
class Proof:
    """The findings (``[]`` is the proof) and what the proof covered."""

    findings: list[LockoutFinding]
    coverage: Coverage


def prove_no_lockout(organization: Organization, **options: object) -> list[LockoutFinding]:
    """Every lockout the emitted policies allow, collapsed across accounts; ``[]`` is the proof. The options are
    :func:`prove`'s."""
    return prove(organization, **options).findings  # type: ignore[arg-type]


def prove(organization: Organization, *,
          intended: Mapping[str, Iterable[str]] | None = None,
          deployment_roles: Iterable[str] = (),
          management_deployer: str | None = None,
          bootstrap_role: str | None = None,
          quarantine: Quarantine | None = None,
          explicit_scps_need_declaration: bool = True) -> Proof:
    """Every lockout the emitted policies allow, collapsed across accounts, and the proof's coverage.

    ``intended``: policy name → Sids whose denial of break-glass is by design (``"*"``: every statement), on top
    of the manifest's ``intended_denials`` and the catalog's ``locks_break_glass``. ``deployment_roles``: role
    name patterns besides the manifest's ``deployment_principals`` (the plan's deployment role).
    ``management_deployer``: the role that deploys the management account's stacks; it must be able to assume
    ``bootstrap_role`` (default: the manifest's ``deployment_role``, else ``OrganizationAccountAccessRole``) in
    every member account. ``explicit_scps_need_declaration=False`` leaves the blueprint's own SCPs (those with no
    catalog guardrail) out of the break-glass check — for blueprints written before ``intended_denials``.
    """
    started = time.perf_counter()
    search = Search(organization)
    who = Principals.of(search.manifest, tuple(deployment_roles), management_deployer, bootstrap_role)
    declarations = Declarations(search.manifest, intended or {}, explicit_scps_need_declaration)
    # The order matters only for which request a merged finding shows: the first one found.
    prove_break_glass(search, who, declarations)
    prove_break_glass_entry(search, who)
    prove_deployment(search, who)
    prove_mfa_enrollment(search)
    if quarantine is not None:
        prove_quarantine(search, who, quarantine)
    search.coverage.seconds = time.perf_counter() - started
    return Proof(search.log.findings(), search.coverage)
