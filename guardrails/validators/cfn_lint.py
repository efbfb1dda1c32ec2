"""cfn-lint, in-process, over every generated CloudFormation template (codes GR601–GR603).

``cfnlint.api.lint`` reloads all rules on every call (~0.5 s). Here one ``cfnlint.runner.Runner``
is built per set of regions and reused: each template then costs a few tens of milliseconds.
Templates are decoded with cfn-lint's own decoder, which keeps line marks, so every finding
points at the right line of the generated file.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial
from typing import TYPE_CHECKING

from guardrails.diagnostics import Diagnostic, Location
from guardrails.validators._common import guarded, shorten

if TYPE_CHECKING:
    from cfnlint.match import Match
    from cfnlint.runner import Runner

# The first letter of a cfn-lint rule id is its severity (E error, W warning, I informational).
RULES_DOC = "https://github.com/aws-cloudformation/cfn-lint/blob/main/docs/rules.md"
CODE_BY_SEVERITY = {"E": "GR601", "W": "GR602", "I": "GR603"}
DEFAULT_REGIONS = ("us-east-1",)


def lint_templates(templates: dict[str, str], regions: Sequence[str] = DEFAULT_REGIONS) -> list[Diagnostic]:
    """Lint each template (path → text) for the given regions; findings located at path:line:col."""
    found: list[Diagnostic] = []
    for path, text in sorted(templates.items()):
        found.extend(guarded(f"cfn-lint on {path}", partial(_lint_one, path, text, regions)))
    return found


def _lint_one(path: str, text: str, regions: Sequence[str]) -> list[Diagnostic]:
    from cfnlint.decode.decode import decode_str

    template, matches = decode_str(text)
    if not matches and template is not None:
        matches = list(_runner(tuple(_supported(regions))).validate_template(template))
    return [to_diagnostic(path, match) for match in matches]


def to_diagnostic(path: str, match: Match) -> Diagnostic:
    """One cfn-lint match as a located diagnostic; the rule id leads the message."""
    rule_id: str = match.rule.id
    code = CODE_BY_SEVERITY.get(rule_id[:1], "GR601")  # an unknown severity letter is treated as an error
    rule = match.rule
    about = getattr(rule, "source_url", "") or RULES_DOC
    return Diagnostic.of(code, f"{rule_id} {shorten(match.message)}",
                         Location(path, match.linenumber, match.columnnumber),
                         f"cfn-lint {rule_id} ({getattr(rule, 'shortdesc', '') or 'rule'}): {about}")


def _supported(regions: Sequence[str]) -> list[str]:
    """The regions cfn-lint knows (it raises on others); us-east-1 when none is left."""
    from cfnlint.helpers import REGIONS

    known = sorted({r for r in regions if r in REGIONS})
    return known or list(DEFAULT_REGIONS)


@cache
def _runner(regions: tuple[str, ...]) -> Runner:
    """One runner (rules loaded once) per set of regions, with informational rules (I*) included."""
    from cfnlint.config import ConfigMixIn, ManualArgs
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(**ManualArgs(regions=list(regions), include_checks=["I"])))
