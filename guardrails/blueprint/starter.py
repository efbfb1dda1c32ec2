"""`guardrails init`: a commented starter blueprint, from a few choices, that builds and validates as written.

The starter is phase 1 of the account workflow (docs/accounts.md): member accounts have no id yet, so only the
organization, its OUs, the accounts themselves, the SCPs and RCPs and the management account's baseline are
emitted. What needs member accounts with ids (the security baseline, identities placed in member accounts, their
access tests) is written to ``phase-2/``, which the loader does not read (it reads the top folder only); the
files say how to move them in once ``guardrails account set-id`` has recorded the ids.

Every value the tool cannot know (ids, email addresses) is a placeholder the schema accepts, on a line marked
``REPLACE``, so that ``grep -rn REPLACE`` lists what is left to fill in. The output depends on the options only:
the same options give byte-identical files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from guardrails.diagnostics import GuardrailsError, ToolError

LAYOUTS = ("recommended", "minimal")
IDENTITIES = ("identity-center", "iam-users")
PHASE_2 = "phase-2"
# Placeholders: valid for the schema, recognisably not real. Each line that carries one says REPLACE.
PLACEHOLDER_ORG_ID = "o-0000000000"
PLACEHOLDER_ROOT_ID = "r-0000"
PLACEHOLDER_ACCOUNT_ID = "000000000000"
PLACEHOLDER_TOWER_OU_ID = "ou-0000-00000000"
WHITEPAPER = ("https://docs.aws.amazon.com/whitepapers/latest/organizing-your-aws-environment/"
              "recommended-ous-and-accounts.html")

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}$")
ORG_ID_PATTERN = re.compile(r"^o-[a-z0-9]{10,32}$")
ROOT_ID_PATTERN = re.compile(r"^r-[0-9a-z]{4,32}$")
ACCOUNT_ID_PATTERN = re.compile(r"^\d{12}$")
EMAIL_PATTERN = re.compile(r"^[^@\s+]+(\+[^@\s]*)?@[^@\s]+\.[^@\s]+$")


class StarterError(GuardrailsError):
    """An option value ``guardrails init`` cannot use; the message says which and what to give instead."""

    exit_code = 64  # a usage error, like argparse's (guardrails.cli.codes.EXIT_USAGE)


@dataclass(frozen=True)
class StarterOptions:
    """What ``guardrails init`` asks for. ``organization_id`` None: a new organization (created in phase 1)."""

    name: str = "my-org"
    organization_id: str | None = None
    root_id: str | None = None
    management_account_id: str | None = None
    management_email: str = "aws+management@example.com"
    home_region: str = "us-east-1"
    regions: tuple[str, ...] = ()
    layout: str = "recommended"
    control_tower: bool = False
    identity: str = "identity-center"

    @property
    def allowed_regions(self) -> tuple[str, ...]:
        """The home region first (it must be allowed), then the others as given, without repeats."""
        return tuple(dict.fromkeys((self.home_region, *self.regions)))

    def check(self) -> None:
        """Raise :class:`StarterError` naming every option value the blueprint would refuse."""
        problems = []
        if not NAME_PATTERN.match(self.name):
            problems.append(f"--name {self.name!r}: lowercase letters, digits and dashes, at most 49 characters")
        if self.organization_id is not None and not ORG_ID_PATTERN.match(self.organization_id):
            problems.append(f"--organization-id {self.organization_id!r} is not an organization id (o- and 10 to "
                            "32 lowercase letters or digits; `aws organizations describe-organization` shows it)")
        if self.root_id is not None and not ROOT_ID_PATTERN.match(self.root_id):
            problems.append(f"--root-id {self.root_id!r} is not a root id (r- and 4 to 32 letters or digits; "
                            "`aws organizations list-roots` shows it)")
        if self.management_account_id is not None and not ACCOUNT_ID_PATTERN.match(self.management_account_id):
            problems.append(f"--management-account-id {self.management_account_id!r} is not a 12-digit account id")
        if not EMAIL_PATTERN.match(self.management_email) or len(self.management_email) > 64:
            problems.append(f"--management-email {self.management_email!r} is not an email address of at most 64 "
                            "characters")
        known, records_iam = _regions()
        if self.home_region not in records_iam:
            why = ("launched after February 2022: AWS Config cannot record global IAM resources there"
                   if self.home_region in known else "is not a region guardrails knows")
            problems.append(f"--home-region {self.home_region!r} {why}; choose one of {', '.join(sorted(records_iam))}")
        for region in self.regions:
            if region not in known:
                problems.append(f"--regions: {region!r} is not a region guardrails knows")
        if self.layout not in LAYOUTS:
            problems.append(f"--layout {self.layout!r}: choose {' or '.join(LAYOUTS)}")
        if self.identity not in IDENTITIES:
            problems.append(f"--identity {self.identity!r}: choose {' or '.join(IDENTITIES)}")
        if problems:
            raise StarterError("guardrails init cannot use these options: " + "; ".join(problems))


def _regions() -> tuple[set[str], set[str]]:
    """(every known region, the regions that record global IAM resources), from guardrails/data/regions.yaml."""
    from importlib import resources

    import yaml

    facts = yaml.safe_load(resources.files("guardrails.data").joinpath("regions.yaml").read_text("utf-8"))
    records = set(facts["records_global_iam"])
    return records | set(facts["launched_later"]), records


# ----------------------------------------------------------------------------- writing


def write_starter(directory: Path, files: dict[str, str], *, force: bool = False) -> list[Path]:
    """Write ``files`` (relative path → text) into ``directory``; the paths written, sorted.

    An existing non-empty directory is refused unless ``force`` (then only the starter's files are replaced). The
    files are written into a temporary folder beside ``directory`` first, and moved in only when all of them were
    written, each with :func:`os.replace`: an interrupted ``init`` leaves no half-written file behind.
    """
    if directory.exists() and not directory.is_dir():
        raise ToolError(f"{directory} is a file, not a directory; nothing was written. Give a new or empty folder")
    if directory.is_dir() and next(directory.iterdir(), None) is not None and not force:
        raise ToolError(f"{directory} is not empty; nothing was written. Give a new or empty folder, or --force "
                        "to replace the starter's files in it (other files are left alone)")
    parent = directory.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.init-", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would stay on the folder it becomes
    except OSError as exc:
        raise ToolError(f"cannot create {directory}: {exc.strerror or exc}; nothing was written") from exc
    try:
        for relative, text in sorted(files.items()):
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
        if not directory.exists():
            os.replace(staging, directory)
        else:
            for relative in sorted(files):
                target = directory / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / relative, target)
    except OSError as exc:
        raise ToolError(f"cannot write the starter blueprint into {directory}: {exc.strerror or exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return sorted(directory / relative for relative in files)


def placeholders(files: dict[str, str]) -> list[str]:
    """``path:line: text`` of every line marked REPLACE in the top folder (what phase 1 needs filled in)."""
    found = []
    for path, text in sorted(files.items()):
        if "/" in path:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if "REPLACE" in line and not line.lstrip().startswith("#"):
                found.append(f"{path}:{number}: {line.strip()}")
    return found


def starter_files(options: StarterOptions) -> dict[str, str]:
    """Every file of the starter blueprint: relative path → text."""
    options.check()
    from guardrails.blueprint.starter_text import (
        identity_center_text,
        identity_text,
        organization_text,
        phase_two_files,
        tests_text,
    )

    files = {"organization.yaml": organization_text(options), "identity.yaml": identity_text(options),
             "tests.yaml": tests_text(options)}
    if options.identity == "identity-center":
        files["identity-center.yaml"] = identity_center_text(options, phase=1)
    files.update({f"{PHASE_2}/{name}": text for name, text in phase_two_files(options).items()})
    return {path: text if path.endswith(".md") else align_comments(text) for path, text in files.items()}


COMMENT_COLUMN = 40


def align_comments(text: str) -> str:
    """End-of-line comments start at one column (or two spaces after a longer value), so that they read as a
    column. The values hold no `#`: the first `  # ` of a line is its comment."""
    out = []
    for line in text.splitlines():
        value, sep, comment = line.partition("  # ")
        if sep and value.strip() and not value.lstrip().startswith("#"):
            line = f"{value.rstrip().ljust(COMMENT_COLUMN - 2)}  # {comment}"
        out.append(line)
    return "\n".join(out) + "\n"


def member_email(options: StarterOptions, account: str) -> str:
    """``local+account@domain`` from the management account's address (one mailbox, plus addressing)."""
    local, _, domain = options.management_email.partition("@")
    return f"{local.split('+')[0]}+{account}@{domain}"
