"""The command line's arguments: every command, its options and their help."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NoReturn

from guardrails import __version__
from guardrails.cli.codes import EXIT_USAGE

DESCRIPTION = ("Compile a YAML blueprint of an AWS Organization into least-privilege IAM, SCPs and RCPs as Terraform "
               "and CloudFormation; validate, test, explain and diff it.")
# `guardrails report KIND` → the generated file it prints.
REPORTS = {"least-privilege": "reports/least-privilege.md", "escalation": "reports/escalation.md"}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting :data:`EXIT_USAGE`: its own 2 is guardrails' "validation findings"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardrails", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"guardrails {__version__}")
    _output_options(parser, argparse_default=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")  # subcommands are _Parser too

    def blueprint_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                       help="blueprint directory (default: blueprints)")
        p.add_argument("-o", "--output", default=Path("output"), type=Path, help="output directory (default: output)")

    def validator_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--checkov", metavar="PATH",
                       help="checkov executable (else $GUARDRAILS_CHECKOV, the one `guardrails setup checkov` "
                       "installed, .venv-checkov/bin/checkov, or PATH)")
        p.add_argument("--skip-external", action="store_true",
                       help="run only guardrails' own checks (no cfn-lint, checkov, parliament or cloudsplaining)")
        p.add_argument("--sarif", metavar="FILE", type=Path,
                       help="also write blueprint errors and validation findings as SARIF 2.1.0 (for GitHub code "
                       "scanning), whether the run passes or fails; not written on a tool error")

    init = sub.add_parser("init", help="write a commented starter blueprint into DIR (default: blueprints) that "
                          "builds and validates as written; asks for what the options leave out when standard input "
                          "is a terminal, else uses the defaults")
    init.add_argument("directory", nargs="?", default=Path("blueprints"), type=Path, metavar="DIR",
                      help="a new or empty folder (default: blueprints)")
    init.add_argument("--name", help="the organization's short name (default: my-org)")
    init.add_argument("--organization-id", metavar="o-ID",
                      help="the organization's id; leave it out (or `new`) for one still to be created: a placeholder "
                      "to replace")
    init.add_argument("--root-id", metavar="r-ID", help="the organization's root id (`aws organizations list-roots`)")
    init.add_argument("--management-account-id", metavar="ID", type=_account_id,
                      help="the management account's 12-digit id (default: a placeholder to replace)")
    init.add_argument("--management-email", metavar="ADDRESS",
                      help="the management account's root email; member accounts get LOCAL+NAME@DOMAIN (default: "
                      "aws+management@example.com, placeholders to replace)")
    init.add_argument("--home-region", metavar="REGION",
                      help="IAM stacks and global Config recording (default: us-east-1)")
    init.add_argument("--regions", metavar="R1,R2", help="allowed regions, comma-separated; the home region is always "
                      "allowed (default: the home region only)")
    init.add_argument("--layout", choices=("recommended", "minimal"),
                      help="recommended (default): AWS's multi-account OUs, Security, Infrastructure, Workloads/Prod "
                      "and NonProd, Sandbox, Quarantine; minimal: Security, Workloads, Quarantine")
    init.add_argument("--control-tower", action=argparse.BooleanOptionalAction, default=None,
                      help="AWS Control Tower governs the organization (its Security OU and accounts are left alone; "
                      "default: no)")
    init.add_argument("--identity", choices=("identity-center", "iam-users"),
                      help="how people sign in: IAM Identity Center permission sets (default) or IAM users in groups")
    init.add_argument("--no-input", action="store_true", help="never ask, even on a terminal: defaults for the rest")
    init.add_argument("--force", action="store_true",
                      help="write into a non-empty DIR, replacing only the starter's own files")

    build = sub.add_parser("build", help="compile the blueprint into the output directory and validate it")
    blueprint_args(build)
    validator_args(build)
    build.add_argument("--no-validate", action="store_true", help="write the output without validating it")
    build.add_argument("--check", action="store_true",
                       help="compile in memory and compare with the output directory, writing nothing: exit 0 when "
                       "it is up to date, 2 when files would be added, changed or removed (1 on blueprint errors). "
                       "Runs no validator (--checkov, --skip-external and --no-validate are ignored): the build "
                       "that wrote the output validated it, and `guardrails validate` re-checks it")

    validate = sub.add_parser("validate", help="validate the existing output against the blueprint")
    blueprint_args(validate)
    validator_args(validate)

    check = sub.add_parser("check", help="every check of build but the external validators (load, resolve, plan, own "
                           "checks, access tests, proofs); writes nothing")
    check.add_argument("blueprint", nargs="?", default="blueprints", type=Path)

    schema = sub.add_parser("schema", help="print (or write) the blueprint JSON Schema")
    schema.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")

    catalog = sub.add_parser("catalog", help="list the built-in guardrails (SCPs and RCPs) and their parameters")
    catalog.add_argument("--markdown", action="store_true", help="print (or write) docs/catalog.md instead")
    catalog.add_argument("-o", "--output", type=Path, help="with --markdown: write to this file")

    library = sub.add_parser("library", help="list the built-in job functions, their parameters and what they grant")
    library.add_argument("--markdown", action="store_true", help="print (or write) docs/job-functions.md instead")
    library.add_argument("-o", "--output", type=Path, help="with --markdown: write to this file")

    report = sub.add_parser("report", help="print a report about the blueprint (also written under output/reports/)")
    report.add_argument("kind", choices=sorted(REPORTS),
                        help="least-privilege: per job function, the actions granted, their scoping, declared "
                        "risks, and the comparison with the closest AWS managed job-function policy")
    report.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                        help="blueprint directory (default: blueprints)")
    show = sub.add_parser("show", help="show what applies to one account (also under output/reports/accounts/)")
    show.add_argument("what", choices=["account"], help="account: its SCPs and RCPs, inherited root → OUs → account, "
                      "with sizes, slot use and the guardrails they contain")
    show.add_argument("name", help="account name")
    show.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                      help="blueprint directory (default: blueprints)")

    rollout = sub.add_parser("rollout", help="canary rollout of SCP/RCP changes (organization.rollout.canary_units)")
    rollout.add_argument("step", choices=["start", "promote"],
                         help="start: record the released policies of OUTPUT in BLUEPRINT/rollout.lock.json, so that "
                         "the next builds give new or changed SCPs/RCPs to the canary OUs only; promote: remove the "
                         "lock, so that the next build releases them everywhere")
    rollout.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                         help="blueprint directory (default: blueprints)")
    rollout.add_argument("-o", "--output", default=Path("output"), type=Path,
                         help="output directory holding the released policies (default: output)")

    account = sub.add_parser("account", help="add an account to the blueprint, record its id, or move it to another "
                             "OU; edits the YAML in place (comments kept), then rebuilds and validates the output")
    account_sub = account.add_subparsers(dest="account_command", required=True, metavar="STEP")
    add = account_sub.add_parser("add", help="add a member account (phase 1 without --id: the account is created "
                                 "first, its baseline follows once `account set-id` records the id)")
    add.add_argument("name", help="account name (lowercase letters, digits, dashes)")
    add.add_argument("--ou", required=True, help="OU path, e.g. Workloads/Prod (with --quarantine: where it goes later)")
    add.add_argument("--email", required=True, help="the account's root email address (unique per account)")
    add.add_argument("--id", dest="account_id", type=_account_id, help="12-digit id of an account that exists already")
    add.add_argument("--quarantine", action="store_true",
                     help="place it in the OU with the `quarantine` guardrail until its baseline is applied; "
                     "`guardrails account move NAME --ou OU` releases it")
    set_id = account_sub.add_parser("set-id", help="record the id of an account created in phase 1 (phase 2: its "
                                    "baseline, root module and StackSet targets follow)")
    set_id.add_argument("name")
    set_id.add_argument("account_id", metavar="ID", type=_account_id)
    move = account_sub.add_parser("move", help="move a member account to another OU (e.g. out of quarantine)")
    move.add_argument("name")
    move.add_argument("--ou", required=True, help="OU path to move it to")
    for step in (add, set_id, move):
        # An option, not a trailing positional: argparse cannot take a positional after --ou/--email.
        step.add_argument("-b", "--blueprint", default=Path("blueprints"), type=Path,
                          help="blueprint directory to edit (default: blueprints)")
        step.add_argument("-o", "--output", default=Path("output"), type=Path, help="output directory (default: output)")
        validator_args(step)
        step.add_argument("--no-build", action="store_true",
                          help="only edit and check the blueprint; leave the output directory alone")

    test = sub.add_parser("test", help="run the blueprint's access tests (`tests:`) with the offline evaluator")
    test.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                      help="blueprint directory (default: blueprints)")
    test.add_argument("-k", dest="select", metavar="TEXT", help="only tests whose name contains TEXT")
    test.add_argument("--verbose-cases", action="store_true", help="print every case, not only a line per test")

    explain = sub.add_parser("explain", help="explain the decision for one request: the policies and statements "
                             "that produced it")
    explain.add_argument("principal", help="role/NAME, user/NAME, group/NAME (a member), root, federated/PROVIDER, "
                         "service/PRINCIPAL or permission-set/NAME (an Identity Center session in --account)")
    explain.add_argument("action", help="e.g. s3:GetObject")
    explain.add_argument("resource", nargs="?", default="*",
                         help="resource ARN (default *); ${partition}, ${account_id}, ${account_id:NAME}, "
                         "${region} are substituted")
    explain.add_argument("--account", required=True, help="the account the principal is in (name or id)")
    explain.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                         help="request context, repeatable; several values for one key: KEY=V1,V2")
    explain.add_argument("--blueprint", default=Path("blueprints"), type=Path,
                         help="blueprint directory to compile (default: blueprints)")
    explain.add_argument("--output", type=Path, metavar="DIR",
                         help="explain against an existing output directory instead of compiling the blueprint")
    diff = sub.add_parser("diff", help="who gains or loses what, where: the permission diff against a git revision "
                          "or between two directories")
    diff.add_argument("paths", nargs="*", type=Path, metavar="DIR",
                      help="without --base: BASE_DIR HEAD_DIR (blueprint or output directories); with --base: the "
                      "blueprint directory (default: blueprints)")
    diff.add_argument("--base", metavar="GIT_REF", help="compare the blueprint with its version at this revision")
    diff.add_argument("--output-dir", default=Path("output"), type=Path, metavar="DIR",
                      help="with --base: the output directory committed next to the blueprint, read when the base "
                      "blueprint no longer compiles (default: output)")
    diff.add_argument("--format", choices=("text", "markdown", "json", "html"), default="text",
                      help="text (colored, default), markdown (a pull-request comment), json, or html (one "
                      "self-contained page, docs/html-report.md)")
    diff.add_argument("-o", "--write", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    diff.add_argument("--fail-on-risk", action="store_true",
                      help="exit 4 when a risky change (privilege escalation, removed MFA, widened trust, removed "
                      "guardrail …) appears, so CI can require a second reviewer")
    audit = sub.add_parser("audit", help="read one live account (read-only AWS calls) and report drift from the "
                           "blueprint and CIS IAM findings (docs/audit.md)")
    audit.add_argument("blueprint", nargs="?", default="blueprints", type=Path,
                       help="blueprint directory (default: blueprints)")
    audit.add_argument("--account", help="the blueprint account the credentials belong to (name or id); required "
                       "without --organization")
    audit.add_argument("--organization", action="store_true",
                       help="audit every blueprint account through --role, assumed from the management (or "
                       "delegated administrator) account the credentials belong to, into one report")
    audit.add_argument("--role", metavar="NAME",
                       help="with --organization: the role to assume in each account, a name, PATH/NAME or an ARN "
                       "with ${account_id} (default: SecurityAuditor when the blueprint deploys it, else "
                       "organization.deployment_role)")
    audit.add_argument("--jobs", type=int, default=8, metavar="N",
                       help="with --organization: accounts audited at the same time (default 8)")
    audit.add_argument("-o", "--write", type=Path, metavar="FILE",
                       help="with --organization: write the report to FILE (markdown unless --format json)")
    audit.add_argument("--account-id", metavar="ID", help="the live account id, when it is not the blueprint's (e.g. "
                       "an emulator's); ${account_id} is substituted with it")
    audit.add_argument("--profile", help="AWS profile (default: the usual boto3 credential chain)")
    audit.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint (an emulator such as moto)")
    audit.add_argument("--as-of", metavar="YYYY-MM-DD", type=_iso_date,
                       help="the date credential ages are measured at (default: today)")
    audit.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                       help="text (default), json, or markdown (with --organization)")
    audit.add_argument("--unused-days", type=int, default=90, metavar="N",
                       help="suggest removing services a role has not used for N days (default 90)")
    setup = sub.add_parser("setup", help="install checkov, pinned by the lock guardrails ships, into a virtual "
                           "environment of its own, where validate and build find it")
    setup.add_argument("tool", choices=["checkov"])
    setup.add_argument("--dir", type=Path, metavar="DIR", help="where to create it (default: "
                       "$XDG_DATA_HOME/guardrails/checkov-VERSION, found without --checkov)")
    setup.add_argument("--python", metavar="PATH", help="the Python that creates it (default: guardrails' own)")
    setup.add_argument("--force", action="store_true", help="reinstall even when it is already set up")
    imp = sub.add_parser("import", help="read an existing organization (read-only AWS calls) and write a blueprint "
                         "that reproduces it, with import ids for what exists (docs/importing.md)")
    imp.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                     help="the blueprint directory to write (new or empty unless --force)")
    imp.add_argument("--force", action="store_true", help="overwrite the blueprint files in a non-empty DIR")
    imp.add_argument("--profile", help="AWS profile of the management account (default: the usual credential chain)")
    imp.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint (an emulator such as moto)")
    imp.add_argument("--region", default="us-east-1", help="the home region (default us-east-1)")
    imp.add_argument("--accounts", metavar="ID[,ID]", help="member accounts whose IAM (roles, groups, users, customer "
                     "managed policies, password policy) is imported too")
    imp.add_argument("--role", default="OrganizationAccountAccessRole", metavar="NAME",
                     help="the role assumed in each of --accounts (a name or an ARN with ${account_id}; default "
                     "OrganizationAccountAccessRole); the management account is read with the caller's credentials")
    imp.add_argument("--name", help="the blueprint's organization name (default: from the organization id)")
    imp.add_argument("--use-catalog", action="store_true",
                     help="write an SCP that equals a catalog guardrail as that guardrail (guardrails then replaces "
                     "the live policy with its packed one) instead of importing it unchanged")
    _everywhere(parser)
    return parser


def _output_options(parser: argparse.ArgumentParser, *, argparse_default: object) -> None:
    """``-v`` and ``-q``: on the top parser with a default, on every command without one (SUPPRESS), so that the
    option works before or after the command and a command never resets what was given before it."""
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse_default,
                        help="show tracebacks of internal errors")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse_default,
                        help="print only errors, warnings and what the command is asked for (a report, a diff, an "
                        "explanation): no summary, no PASS lines, no progress")


def _everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every command (and step) the output options, and its one-line help as the description of its --help."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subcommands here; there is no public API
        if not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}  # noqa: SLF001
        for name, command in action.choices.items():
            if command.description is None and helps.get(name):
                command.description = helps[name][:1].upper() + helps[name][1:] + "."
            _output_options(command, argparse_default=argparse.SUPPRESS)
            _everywhere(command)


def _iso_date(text: str):  # noqa: ANN202 - argparse type
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _account_id(text: str) -> str:
    if not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 12-digit AWS account id")
    return text
