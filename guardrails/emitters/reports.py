"""Human-readable reports under ``reports/``: what each account receives."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from guardrails.emitters import header_text
from guardrails.iam.organization import in_any_unit, policy_targets
from guardrails.policies.intent import LEFT_OUT_UNSCOPED
from guardrails.policies.ir import Account, BaselineClass, Plan, ServiceControlPolicy

REPORT_WIDTH = 120  # Markdown source lines of long action lists


def emit(plan: Plan) -> dict[str, str]:
    lines = [f"<!-- {header_text(plan)} -->", "", f"# Organization {plan.org.name}: accounts and their baselines", "",
             "| account | id | OU | baseline class | roles | groups | users |", "|---|---|---|---|---|---|---|"]
    classes: dict[str, BaselineClass] = {}  # plan.class_of (the first class that holds the account), indexed once
    for cls in plan.classes:
        for name in cls.accounts:
            classes.setdefault(name, cls)
    # The class's cells (key, roles, groups, users) are the same in every row of its accounts: joined once.
    cells = {cls.key: f"{cls.key} | {', '.join(r.name for r in cls.baseline.roles)} | "
                      f"{', '.join(g.name for g in cls.baseline.groups)} | "
                      f"{', '.join(u.name for u in cls.baseline.users) or '—'} |" for cls in plan.classes}
    for account in sorted(plan.accounts, key=lambda a: (a.unit, a.name)):
        cls = classes.get(account.name)
        assert cls is not None
        lines.append(f"| {account.name} | {account.id} | {account.unit or '(root)'} | {cells[cls.key]}")
    lines += ["", "## Service control policies", "", "| policy | target | characters (minified) | guardrails |", "|---|---|---|---|"]
    for scp in plan.scps:
        lines.append(f"| {scp.name} | {scp.target} | {len(scp.document.render(minified=True))} | "
                     f"{', '.join(scp.guardrails) or 'explicit'} |")
    if plan.rcps:
        lines += ["", "## Resource control policies", "", "| policy | target | characters (minified) | guardrails |",
                  "|---|---|---|---|"]
        lines += [f"| {r.name} | {r.target} | {len(r.document.render(minified=True))} | {', '.join(r.guardrails)} |"
                  for r in plan.rcps]
    if plan.pending_accounts:
        lines += ["", "## Accounts still to be created", "",
                  "No id yet: phase 1 creates them; their baselines follow once `guardrails account set-id` records "
                  "the id.", "", "| account | OU | email |", "|---|---|---|"]
        lines += [f"| {a.name} | {a.unit or '(root)'} | {a.email} |" for a in plan.pending_accounts]
    files = {"reports/summary.md": "\n".join(lines) + "\n", "reports/least-privilege.md": least_privilege(plan)}
    levels: Levels = {}  # the root's and each OU's rows, shared by every account under them
    files.update({f"reports/accounts/{a.name}.md": effective_guardrails(plan, a.name, levels) + "\n"
                  + bootstrap_checklist(plan, a) for a in plan.accounts})
    files.update({f"reports/accounts/{a.name}.md": pending_checklist(plan, a) for a in plan.pending_accounts})
    return files


def _quarantined(plan: Plan, account: Account) -> bool:
    """The account sits in (or under) an OU with the `quarantine` guardrail."""
    units = {p.target.removeprefix("ou:") for p in plan.scps if "quarantine" in p.guardrails and p.target.startswith("ou:")}
    return in_any_unit(account.unit, units)


def _manual_steps(plan: Plan, account: Account) -> list[str]:
    """What no template can do for this account: the steps a person takes, with the command where there is one."""
    security = plan.security
    steps = []
    if account.management or security is None or not security.centralized_root_access:
        steps.append("- [ ] Root user: reset the root password through the sign-in page's password recovery, turn on "
                     "MFA (a FIDO2 security key, CIS 1.5/1.6), keep no root access keys (CIS 1.4), and store the "
                     "recovery details in the break-glass safe."
                     + (" Centralized root access does not cover the management account." if account.management
                        and security is not None and security.centralized_root_access else ""))
    else:
        steps.append("- [ ] Root user: nothing to set up. Centralized root access (organization set-up) leaves member "
                     "root users without password or MFA; check with `aws iam list-organizations-features` in the "
                     "management account, and remove any root credentials the account was created with through "
                     "`aws sts assume-root` (task policy IAMDeleteRootUserCredentials).")
    steps.append("- [ ] Contacts: set the alternate contacts (billing, operations, security) in the Account "
                 "settings or with `aws account put-alternate-contact --account-id " + (account.id or "ID") + "`, "
                 "so that AWS reaches the right people about security findings.")
    if security is not None and security.alert_emails:
        steps.append(f"- [ ] Alerts: each address ({', '.join(security.alert_emails)}) confirms the SNS subscription "
                     f"of topic {security.topic_name} in every alert region ({', '.join(security.alert_regions)}).")
    if account.name == plan.org.break_glass_account:
        steps.append("- [ ] Break-glass users: set their console passwords and MFA devices in person (two people), "
                     "store them offline, and test the path once: sign in, assume the break-glass role, watch the "
                     "alert arrive.")
    if _quarantined(plan, account):
        steps.append(f"- [ ] Quarantine: once the baseline is applied, release the account with `guardrails account "
                     f"move {account.name} --ou OU` (the end-of-line note in the blueprint names the OU).")
    return steps


def bootstrap_checklist(plan: Plan, account: Account) -> str:
    """How this account is bootstrapped with the generated bundle, and the manual steps (Markdown section)."""
    role = plan.org.management_deployment_role if account.management else plan.org.deployment_role
    lines = ["## Bootstrap", "", "The bundle for this account, in both formats:", "",
             f"- Terraform: `terraform/accounts/{account.name}/`, a root module whose provider assumes {role} in "
             f"{account.id}" + (", after `terraform/organization/` (the organization, its OUs and accounts)"
                                if not account.management else ", next to `terraform/organization/`") + ".",
             "- CloudFormation: " + ("`management-baseline.yaml` as a normal stack (StackSets never deploy to the "
                                     "management account)." if account.management else
                                     "the account is in `organization-accounts.yaml`; the service-managed StackSets "
                                     "of `stacksets.yaml` deploy its baseline through the OU targeting (automatic "
                                     "deployment when it joins an OU they target).")]
    lines += ["", "Manual steps (no API or template can take them):", "", *_manual_steps(plan, account)]
    return "\n".join(lines) + "\n"


def pending_checklist(plan: Plan, account: Account) -> str:
    """The report of an account still to be created: the two phases and what to run."""
    lines = [f"<!-- {header_text(plan)} -->", "", f"# Account {account.name} (to be created)", "",
             f"OU {account.unit or 'the root'}, root email {account.email}. No id yet, so only the account itself is "
             "emitted: its baseline needs the id (every role, trust policy and provider names it).", "",
             "## Phase 1: create it", "",
             f"- Terraform: apply `terraform/organization/`; the new `aws_organizations_account` resource creates the "
             f"account and AWS Organizations adds the role {plan.org.deployment_role} to it. The id is in "
             "`terraform output account_ids`.",
             "- CloudFormation: deploy `organization-accounts.yaml` (the account is an `AWS::Organizations::Account`); "
             "the id is the resource's physical id (`aws organizations list-accounts`).",
             "", "## Phase 2: record the id and apply the baseline", "",
             f"- `guardrails account set-id {account.name} ID` writes the id into the blueprint (comments kept) and "
             "rebuilds: the account's Terraform root module, baseline, policies and reports appear in the diff.",
             "- Review the diff, then apply the account's root module (Terraform) or let the StackSets deploy "
             "(CloudFormation).", "",
             "Manual steps after phase 2:", "", *_manual_steps(plan, account)]
    return "\n".join(lines) + "\n"


def scp_path(plan: Plan, account_name: str) -> list[str]:
    """Targets from the root down to the account: ``root``, ``ou:A``, ``ou:A/B``, ``account:NAME``."""
    account = plan.account(account_name)
    return policy_targets(account.unit, account.name)


Levels = dict[tuple[str, str], list[str]]
"""Rows of :func:`effective_guardrails` by (policy type, level), for one plan."""


def effective_guardrails(plan: Plan, account_name: str, levels: Levels | None = None) -> str:
    """The SCPs and RCPs that apply to one account, inherited root → OUs → account, with sizes and slot use.

    Inherited policies do not count towards a target's slots; every level must allow a request and a Deny at any
    level wins (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html).
    """
    account = plan.account(account_name)
    lines = [f"<!-- {header_text(plan)} -->", "", f"# Effective guardrails of account {account.name}", "",
             f"Account {account.id} in {account.unit or 'the root'}."]
    if account.management:
        lines += ["", "**This is the management account: SCPs and RCPs do not restrict its principals or resources.** "
                  "The policies below are attached on its path but have no effect on it."]
    for title, policies, default, chars_key, slots_key in (
            ("Service control policies", plan.scps, "FullAWSAccess", "scp_chars", "scps_per_target"),
            ("Resource control policies", plan.rcps, "RCPFullAWSAccess", "rcp_chars", "rcps_per_target")):
        chars, slots = plan.limits[chars_key].value, plan.limits[slots_key].value
        lines += ["", f"## {title}", "", f"Each level must allow a request; a Deny anywhere wins. Size limit "
                  f"{chars:,} characters per policy, {slots} policies attached per target.", "",
                  "| level | policy | characters | guardrails |", "|---|---|---:|---|"]
        for level in scp_path(plan, account.name):
            # A level's rows depend only on the plan's policies and the level: ``levels`` (for this plan) keeps them.
            rows = levels.get((default, level)) if levels is not None else None
            if rows is None:
                rows = _level_rows(policies, default, chars, slots, level)
                if levels is not None:
                    levels[(default, level)] = rows
            lines += rows
    return "\n".join(lines) + "\n"


def _level_rows(policies: Sequence[ServiceControlPolicy], default: str, chars: int, slots: int, level: str) -> list[str]:
    """The table rows of one level: the default policy, the attached ones with their sizes, the slots used."""
    attached = [p for p in policies if p.target == level]
    lines = [f"| {level} | {default} (AWS managed, default) | — | allows everything |"]
    for policy in attached:
        size = len(policy.document.render(minified=True))
        what = ", ".join(policy.guardrails) or "explicit: " + ", ".join(s.sid for s in policy.document.statements)
        lines.append(f"| {level} | {policy.name}{' (merged statements)' if policy.merged else ''} | "
                     f"{size:,} ({size * 100 // chars}%) | {what} |")
    lines.append(f"| {level} | *slots used* | {1 + len(attached)} of {slots} | |")
    return lines


def least_privilege(plan: Plan) -> str:
    """Per job function: actions granted, how many are limited to specific resources, what is on "*" and why."""
    lines = [f"<!-- {header_text(plan)} -->", "", "# Least privilege, per job function", "",
             "Counts are of the job function's own policy, expanded against the pinned IAM action database; AWS "
             "managed policies it attaches are listed separately.", "",
             "Action lists stay explicit unless a size limit forces wildcards; a compacted statement's wildcards "
             "expand to exactly the intended actions in the pinned database, but will also match actions AWS adds "
             "later.", "",
             "| job function | actions | limited to resources | on `*` (cannot be scoped) | on `*` (could be scoped) "
             "| compacted statements | policies | AWS managed policies |", "|---|---:|---:|---:|---:|---|---:|---|"]
    for report in plan.job_reports:
        on_star = len(report.actions) - len(report.scoped)
        unscopable = len(report.unscoped)
        lines.append(f"| {report.job} | {len(report.actions)} | {len(report.scoped)} | {unscopable} | "
                     f"{on_star - unscopable} | {', '.join(report.compacted) or '—'} | {report.parts} | "
                     f"{', '.join(report.managed_policies) or '—'} |")
    for report in plan.job_reports:
        granted = set(report.actions)
        # Left out by one grant but granted by another grant or statement of the job function: not left out.
        left_out = sorted({a for a, why in report.not_granted if why == LEFT_OUT_UNSCOPED and a not in granted})
        not_granted = [(a, why) for a, why in report.not_granted if why != LEFT_OUT_UNSCOPED]
        if not (report.unscoped or left_out or not_granted):
            continue
        lines += ["", f"## {report.job}", ""]
        if report.description:
            lines += [report.description, ""]
        if report.unscoped:
            lines += ["Granted on `*` because these actions support no resource-level scoping:", "",
                      *_by_service(report.unscoped), ""]
        if left_out:
            lines += ["Left out: these actions of the requested access levels support no resource-level scoping and "
                      "change something (write, tagging or permissions management), so on `*` they would reach "
                      "beyond the grant's resources; add them with `include` if the workload needs them:", "",
                      *_by_service(left_out), ""]
        if not_granted:
            lines += ["Requested by an access level but not granted:", ""]
            lines += [f"- `{action}`: {why}" for action, why in not_granted]
            lines.append("")
    for section in (_declared_risks(plan), _comparisons(plan)):
        while section and lines[-1] == "":
            lines.pop()
        lines += ["", *section]
    return "\n".join(lines).rstrip("\n") + "\n"


def _by_service(actions: tuple[str, ...] | list[str]) -> list[str]:
    """One list item per service naming every action, sorted, wrapped (never a bare count)."""
    by_service: dict[str, list[str]] = {}
    for action in sorted(actions):
        by_service.setdefault(action.split(":")[0], []).append(action)
    items = []
    for service, names in sorted(by_service.items()):
        text = f"- {service} ({len(names)}): " + ", ".join(f"`{a}`" for a in names)
        items += textwrap.wrap(text, width=REPORT_WIDTH, subsequent_indent="  ", break_long_words=False,
                               break_on_hyphens=False)
    return items


# Display text of the comparison rows after the access levels (ids: guardrails.policies.compare).
_ROW_LABELS = {"total": "**total**", "common": "in both", "only": "only on this side",
               "scoped": "limited to resources", "on-star": "on `*`"}
ONLY_OURS_SHOWN = 10


def _declared_risks(plan: Plan) -> list[str]:
    """Risks each job function keeps on purpose (its `accept_risks`), by rule id."""
    holders = [r for r in plan.job_reports if r.risks]
    if not holders:
        return []
    lines = ["## Declared risks", "",
             "Risky grants in a job function's own policy that no condition or resource scope mitigates, kept on "
             "purpose: the blueprint's `accept_risks` gives the reason, the owner and the review date.", "",
             "| job function | risk rules |", "|---|---|"]
    lines += [f"| {r.job} | {', '.join(f'`{rule}`' for rule in r.risks)} |" for r in holders]
    return lines


def _comparisons(plan: Plan) -> list[str]:
    """Per job function with an AWS counterpart: access levels side by side, and what only ours grants."""
    compared = [r for r in plan.job_reports if r.counterpart]
    if not compared:
        return []
    lines = ["## Compared with AWS managed job-function policies", "",
             "Both sides are expanded against the same pinned IAM action database. Fewer actions is better, but "
             "not by dropping documented tasks; every action only in ours must be justified by a task of the job "
             "function.", ""]
    for report in compared:
        lines += [f"### {report.job} — {report.counterpart}", ""]
        if report.counterpart_counts:
            lines += [f"| actions | ours | {report.counterpart} |", "|---|---:|---:|"]
            lines += [f"| {_ROW_LABELS.get(label, label)} | {ours} | {theirs} |"
                      for label, ours, theirs in report.counterpart_counts]
            lines.append("")
            if report.counterpart_only_ours:
                shown = ", ".join(f"`{a}`" for a in report.counterpart_only_ours[:ONLY_OURS_SHOWN])
                rest = len(report.counterpart_only_ours) - ONLY_OURS_SHOWN
                more = f" and {rest} more" if rest > 0 else ""
                lines += [f"Only in ours ({len(report.counterpart_only_ours)}; each must be justified by a documented "
                          f"task): {shown}{more}.", ""]
            else:
                lines += [f"Only in ours: none; every action is also in {report.counterpart}.", ""]
        lines += [f"- {note}" for note in report.counterpart_notes]
        if report.counterpart_notes:
            lines.append("")
    return lines
