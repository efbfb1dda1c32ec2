"""``guardrails init [DIR]``: the options from the flags, asking for the rest when standard input is a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from guardrails.blueprint.starter import (
    IDENTITIES,
    LAYOUTS,
    PHASE_2,
    StarterError,
    StarterOptions,
    placeholders,
    starter_files,
    write_starter,
)
from guardrails.cli.codes import EXIT_OK

Ask = Callable[[str], str]
DEFAULTS = StarterOptions()


def run_init(args: argparse.Namespace, out: Console, *, ask: Ask | None = None) -> int:
    """Gather the options (prompting through ``ask``, by default :func:`input` on a terminal), write the starter."""
    if ask is None and not args.no_input and sys.stdin.isatty():
        ask = input
    options = gather(args, ask)
    files = starter_files(options)
    write_starter(args.directory, files, force=args.force)
    top = sorted(p for p in files if "/" not in p)
    later = sorted(p for p in files if p.startswith(f"{PHASE_2}/"))
    out.print(f"wrote {args.directory}/: {', '.join(top)}; {PHASE_2}/ ({len(later)} files for when the member "
              "accounts have ids)", markup=False)
    left = placeholders(files)
    target = "" if args.directory == Path("blueprints") else f" {args.directory}"
    if left:
        out.print(f"{len(left)} placeholder(s) to fill in before deploying (`grep -rn REPLACE {args.directory}`); "
                  "the blueprint builds as it is:", markup=False)
        for line in left:
            out.print(f"  {line}", markup=False)
    out.print(f"next: `guardrails build{target}` compiles and validates it; {args.directory}/{PHASE_2}/README.md "
              "says what follows once the accounts exist", markup=False)
    return EXIT_OK


def gather(args: argparse.Namespace, ask: Ask | None) -> StarterOptions:
    """Flags win; without a flag, ``ask`` (when there is one) with the default shown, else the default."""

    def value(given: str | None, question: str, default: str, field: str | None = None) -> str:
        """The flag, else the answer (asked again while ``field`` of :class:`StarterOptions` refuses it)."""
        if given is not None:
            return given
        while ask is not None:
            try:
                answer = ask(f"{question} [{default}]: ").strip() or default
            except EOFError:
                return default
            problem = _problem(field, answer, default) if field else None
            if problem is None:
                return answer
            sys.stderr.write(problem + "\n")
        return default

    def choice(given: str | None, question: str, choices: tuple[str, ...], default: str) -> str:
        while True:
            answer = value(given, f"{question} ({'/'.join(choices)})", default)
            matches = [c for c in choices if c.startswith(answer.lower())]
            if len(matches) == 1 or given is not None or ask is None:
                return matches[0] if len(matches) == 1 else answer  # a bad flag is reported by StarterOptions.check
            sys.stderr.write(f"choose one of {', '.join(choices)}\n")

    def yes_no(given: bool | None, question: str, default: bool) -> bool:
        while True:
            answer = value(None if given is None else ("yes" if given else "no"), f"{question} (yes/no)",
                           "yes" if default else "no").lower()
            if answer in ("y", "yes", "n", "no"):
                return answer.startswith("y")
            sys.stderr.write("answer yes or no\n")

    name = value(args.name, "Organization short name (lowercase, digits, dashes)", DEFAULTS.name, "name")
    organization_id = value(args.organization_id, "Organization id (o-…), or `new` for one still to be created",
                            "new", "organization_id")
    existing = organization_id.lower() != "new"
    root_id = value(args.root_id, "Root id (r-…)", "unknown", "root_id") if existing else args.root_id
    management_id = value(args.management_account_id, "Management account id (12 digits)", "unknown",
                          "management_account_id")
    email = value(args.management_email, "Management account root email (members get its +NAME addresses)",
                  DEFAULTS.management_email, "management_email")
    home = value(args.home_region, "Home region", DEFAULTS.home_region, "home_region")
    regions = value(args.regions, "Allowed regions, comma-separated (the home region is always allowed)", home,
                    "regions")
    layout = choice(args.layout, "OU layout", LAYOUTS, DEFAULTS.layout)
    tower = yes_no(args.control_tower, "Does AWS Control Tower govern the organization?", DEFAULTS.control_tower)
    identity = choice(args.identity, "How people sign in", IDENTITIES, DEFAULTS.identity)
    return StarterOptions(
        name=name, organization_id=organization_id if existing else None,
        root_id=None if root_id in (None, "unknown") else root_id,
        management_account_id=None if management_id == "unknown" else management_id, management_email=email,
        home_region=home, regions=tuple(r.strip() for r in regions.split(",") if r.strip()), layout=layout,
        control_tower=tower, identity=identity)


def _problem(field: str, answer: str, default: str) -> str | None:
    """What :meth:`StarterOptions.check` says about ``answer`` as ``field`` (the defaults `new` and `unknown` pass)."""
    if answer == default and default in ("new", "unknown"):
        return None
    value: object = tuple(r.strip() for r in answer.split(",") if r.strip()) if field == "regions" else answer
    try:
        StarterOptions(**{field: value}).check()
    except StarterError as exc:
        return str(exc).removeprefix("guardrails init cannot use these options: ")
    return None
