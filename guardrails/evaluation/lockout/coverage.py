"""What a proof covered: how many (action, path, class, context) combinations each check decided."""

from __future__ import annotations

from dataclasses import dataclass, field

from guardrails.evaluation.lockout.findings import CHECK_ORDER, Check

_NAMES: dict[Check, str] = {"break-glass": "break-glass", "break-glass-entry": "break-glass entry",
                            "deployment": "deployment", "mfa-enrollment": "MFA enrollment",
                            "quarantine": "quarantine"}


def check_name(check: Check) -> str:
    """How reports name a check ("MFA enrollment")."""
    return _NAMES[check]


@dataclass
class Coverage:
    """Counts per check. ``combinations``: for the "any request" checks (break-glass, quarantine), every action
    of the universe once per group with the context AWS fills in, plus once per adversarial context of each Deny
    statement that names it; for the checks of needed requests, every request evaluated. ``groups``: the distinct
    (SCP/RCP path, baseline class) groups the check was proven on."""

    actions: int = 0  # actions in the universe (the pinned database, and literals it does not know)
    groups: dict[Check, int] = field(default_factory=dict)
    combinations: dict[Check, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, check: Check, combinations: int) -> None:
        self.combinations[check] = self.combinations.get(check, 0) + combinations

    def group(self, check: Check, actions: int = 0) -> None:
        """One more group proven; ``actions``: the universe asked once in it (the "any request" checks)."""
        self.groups[check] = self.groups.get(check, 0) + 1
        self.add(check, actions)

    @property
    def total(self) -> int:
        return sum(self.combinations.values())

    def summary(self) -> str:
        """One line for the build summary."""
        bg = self.combinations.get("break-glass", 0)
        parts = [f"{self.actions:,} actions × {self.groups.get('break-glass', 0)} SCP/RCP paths and classes: "
                 f"{bg:,} (action, path, class, context) combinations for break-glass"]
        others = [f"{self.combinations[c]:,} {_NAMES[c]}" for c in CHECK_ORDER
                  if c != "break-glass" and self.combinations.get(c)]
        if others:
            parts.append("requests: " + ", ".join(others))
        return "; ".join(parts) + f"; {self.seconds:.2f} s"
