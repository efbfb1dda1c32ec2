"""The serial front of a compile (reading, model, plan) takes shortcuts; each is compared here with the plain path.

* ``baseline_for`` given the account's placed identities (``placed``) and a ``shared`` memo across the accounts of a
  synthesis builds what it builds alone, for every account.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.blueprint import load_blueprint
from guardrails.model import build_model
from guardrails.model.build import Model
from guardrails.policies.baselines import baseline_for, placed_identities
from guardrails.policies.jobs import compile_jobs
from guardrails.policies.synthesize import synthesize

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = [ROOT / "blueprints", *(p / "blueprint" for p in sorted((ROOT / "tests" / "cases").iterdir())
                                     if (p / "blueprint").is_dir())]


@pytest.fixture(scope="module", params=BLUEPRINTS, ids=lambda p: p.parent.name if p.name == "blueprint" else p.name)
def model(request: pytest.FixtureRequest) -> Model:
    return build_model(load_blueprint(request.param))


def test_baseline_for_with_placements_and_a_shared_memo_is_the_plain_baseline(model: Model) -> None:
    plan = synthesize(model)
    info = plan.org
    compiled = compile_jobs(model, info, [], comparisons=False)
    shared: dict = {}
    for account in sorted(model.accounts):
        plain = baseline_for(model, account, info, compiled)
        placed = frozenset(i for i, accounts in model.placements.items() if account in accounts)
        assert placed_identities(model, account) == placed
        assert baseline_for(model, account, info, compiled, shared, placed=placed) == plain, account

