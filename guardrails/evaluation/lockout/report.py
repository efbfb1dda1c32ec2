"""GR403 diagnostics for lockout findings: what is denied, to whom, in which accounts, and how to fix it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from guardrails.diagnostics import Diagnostic, Location
from guardrails.evaluation.lockout.findings import LockoutFinding


def lockout_diagnostics(findings: Sequence[LockoutFinding], *, origins: Mapping[tuple[str, int], str] | None = None,
                        default: Location | None = None) -> list[Diagnostic]:
    """GR403 per finding. ``origins``: (policy name, statement index) → the statement's origin in the plan
    (``file:line:col`` for the blueprint's own statements, the catalog id for catalog ones)."""
    out: list[Diagnostic] = []
    for finding in findings:
        origin = (origins or {}).get((finding.policy, finding.index), "")
        location = Location.parse(origin) or default
        source = f" (catalog guardrail {origin})" if origin and Location.parse(origin) is None else ""
        out.append(Diagnostic.of("GR403", _message(finding) + source, location, _hint(finding)))
    return out


def _accounts_text(accounts: Sequence[str]) -> str:
    if len(accounts) <= 6:
        return ", ".join(accounts)
    return f"{len(accounts)} accounts ({', '.join(accounts[:4])} …)"


def _message(f: LockoutFinding) -> str:
    action = f.actions[0]
    more = f" (and {len(f.actions) - 1} more: {', '.join(f.actions[1:6])}{' …' if len(f.actions) > 6 else ''})" \
        if len(f.actions) > 1 else ""
    request = f"{action} on {f.resource}" + (f" with {f.describe_context()}" if f.context else "")
    where = f"in {_accounts_text(f.accounts)}"
    if f.decision.startswith("cannot be evaluated"):
        what = f"{f.describe_policy()}: " if f.policy else ""
        return f"lockout: cannot prove that {f.principal} ({f.check}) is not denied {action} {where}: {what}" \
               f"{f.decision}"
    if f.check == "break-glass":
        lead = f"lockout: break-glass {f.principal} is denied {request} {where}"
    elif f.check == "quarantine":
        lead = f"lockout: the quarantine SCP denies {f.principal} {request} {where}"
    elif f.check == "break-glass-entry":
        lead = f"lockout: break-glass {f.principal} cannot assume the break-glass role {where} ({request})"
    elif f.check == "deployment":
        lead = f"lockout: deployment principal {f.principal} cannot {request}{more} {where}, which deploying the " \
               "baseline needs"
    else:
        lead = f"lockout: {f.principal} without MFA cannot {request}{more} {where}, which enrolling an MFA device " \
               "needs"
    return f"{lead}: {f.describe_policy()}"


def _hint(f: LockoutFinding) -> str:
    exempt = ("exempt the break-glass role and the deployment principals through aws:PrincipalArn (catalog "
              "guardrails: `exempt_privileged`; the blueprint's own statements: an ArnNotLike aws:PrincipalArn "
              "condition naming them)")
    if f.check in ("break-glass", "quarantine"):
        return f"{exempt}, or declare the denial intended (`intended_denials: [{f.statement}]` on the SCP)"
    if f.check == "mfa-enrollment":
        return ("users under MFA enforcement must be able to call iam:CreateVirtualMFADevice, iam:EnableMFADevice, "
                "iam:ListMFADevices and iam:GetUser on their own user without MFA: allow them, and leave them out of "
                "any Deny that applies without MFA (NotAction)")
    if f.check == "deployment" and f.kind in ("identity", "boundary", "resource"):
        return ("the role's own policies do not let it deploy the baseline: grant what the baseline needs "
                "(guardrails/data/deployment_actions.yaml lists it) through its job functions and boundary, or take "
                "it out of `deployment_principals` if it does not deploy the baseline (the guardrails then apply to "
                "it like to everyone else)")
    return f"{exempt}; intended denials do not apply here: the deployment needs the action"
