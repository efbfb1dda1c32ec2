"""The serial front of a compile (reading, model, plan) takes shortcuts; each is compared here with the plain path.

* ``baseline_for`` given the account's placed identities (``placed``) and a ``shared`` memo across the accounts of a
  synthesis (groups, users and roles built once, with the policies they add) builds what it builds alone, for every
  account;
* the classes' whole OUs and fresh names, computed from one set per OU, are the ones the definitions give;
* libyaml's reading checks what it places differently (and its depth) while converting, as the walk that defines it;
* the search for ``${`` outside policy text finds what filtering ``iter_strings`` finds;
* locations, kept as marks, read as a dict of Locations, merged across files in one pass as section by section;
* placements that deploy alike share one selection of accounts, the plain one;
* the risk analysis of a plan whose classes share documents is that of a plan that shares nothing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from unittest import mock

import pytest

from guardrails.blueprint import limits, load_blueprint, text, yamlmarks
from guardrails.diagnostics import BlueprintError, Location
from guardrails.iam.organization import outermost
from guardrails.model import build_model
from guardrails.model.build import Model
from guardrails.model.resolved import _placement_accounts
from guardrails.policies import classes
from guardrails.policies.baselines import baseline_for, placed_identities
from guardrails.policies.jobs import compile_jobs
from guardrails.policies.risk_plan import analyze_plan
from guardrails.policies.statements import slug
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


def test_whole_units_of_every_class_are_the_definitions(model: Model) -> None:
    whole = classes._WholeUnits(model)
    for cls in synthesize(model).classes:
        accounts = set(cls.accounts)
        plain = outermost(u for u in model.units if (inside := model.accounts_in_unit(u)) and set(inside) <= accounts)
        assert whole(cls.accounts) == plain
        covered = {a for u in plain for a in model.accounts_in_unit(u)}
        fresh = cls.accounts[0] if len(cls.accounts) == 1 else "-".join(slug(u) for u in plain) if plain and \
            covered == accounts else "-".join(slug(u) or "root" for u in sorted({model.accounts[a].unit for a in accounts}))
        assert classes._fresh_name(model, cls.accounts, whole) == fresh
        if not cls.accounts or any(model.accounts[a].management for a in cls.accounts):
            continue
        assert cls.whole_units == tuple(plain)


# ----------------------------------------------------------------------------- reading

_DEEP_IN_MERGE = "a: {<<: {b: " + "[" * 61 + "x" + "]" * 61 + "}}\n"  # 65 levels as written, 64 once flattened
_PLACEMENT_CASES = [
    "{a: }\n", "[a: ]\n", "x: {<<: {a: }}\n", "x:\n  <<: {a: }\n", "x:\n  <<: [{a: }]\n", _DEEP_IN_MERGE,
    _DEEP_IN_MERGE.replace("[" * 61, "[" * 60).replace("]" * 61, "]" * 60), "[" * 64 + "]" * 64 + "\n",
    "[" * 65 + "]" * 65 + "\n", "a: " + "{b: " * 63 + "c" + "}" * 63 + "\n", "a: " + "{b: " * 64 + "c" + "}" * 64 + "\n",
    "a: {b: , <<: {c: 1}}\n", "a: &x {b: 1}\nc: {<<: *x, d: }\n", "a: &x {b: }\nc: [*x]\n", "a:\n  b:\n  <<: {c: 1}\n",
]


@pytest.mark.skipif(yamlmarks.CParser is None, reason="PyYAML is installed without libyaml")
@pytest.mark.parametrize("source", _PLACEMENT_CASES)
def test_build_refuses_what_the_placement_walk_refuses(source: str) -> None:
    """_build(libyaml=True) checks, as it converts, what _placed_differently_or_too_deep checks of the tree as
    libyaml composed it: libyaml's reading is refused (and the pure-Python one taken) whenever the walk objects."""
    root = yamlmarks._compose_libyaml(source, limits.Budget())
    fast = yamlmarks._parse_libyaml(source, "f.yaml", limits.Budget())
    if yamlmarks._placed_differently_or_too_deep(root):
        assert fast is None
    with mock.patch.object(yamlmarks, "CParser", None):
        slow = yamlmarks.parse_marked(source, "f.yaml", [], limits.Budget())
    if fast is not None:
        assert (repr(fast.data), fast.value_locations, fast.key_locations) == \
            (repr(slow.data), slow.value_locations, slow.key_locations)


def _loads(folder: Path) -> bool:
    try:
        load_blueprint(folder, partial=True)
    except BlueprintError:
        return False
    return True


# Every committed blueprint that loads (an error case that stops in the loader has no tree to walk).
_LOADABLE = [f for f in (*BLUEPRINTS, *sorted((ROOT / "tests" / "errors").glob("*/blueprint"))) if _loads(f)]


@pytest.mark.parametrize("folder", _LOADABLE, ids=lambda p: p.parent.name if p.name == "blueprint" else p.name)
def test_placeholder_walk_finds_what_iter_strings_finds(folder: Path) -> None:
    """The one-walk search for ``${`` outside policy text against the plain filter over every string."""
    loaded = load_blueprint(folder, partial=True)
    plain = [(path, owner, is_key) for path, owner, value, is_key in text.iter_strings(loaded.blueprint)
             if "${" in value and (owner not in text.POLICY_TEXT or is_key)]
    assert text.placeholders_outside_policy_text(loaded.blueprint) == plain
    if folder.parent.name == "placeholder-outside-policy-text":
        assert plain


def test_placements_shared_by_equal_deploy_to_are_the_plain_selections(model: Model) -> None:
    """_placement_accounts with the model stage's memo of selections: the same accounts and problems per entry."""
    chosen: dict = {}
    bp = model.blueprint
    entries = [(s, n, e.deploy_to) for s in ("groups", "users", "roles") for n, e in getattr(bp, s).items()]
    entries += [("permission_boundaries", n, b.deploy_to) for n, b in bp.permission_boundaries.items() if b.deploy_to]
    for section, name, placement in entries * 2:  # the second round reads the memo only
        plain_problems: list = []
        memo_problems: list = []
        where = (section, name, "deploy_to")
        plain = _placement_accounts(model, placement, where, plain_problems)
        assert _placement_accounts(model, placement, where, memo_problems, chosen) == plain
        assert memo_problems == plain_problems
        if (section, name) in model.placements:
            assert model.placements[(section, name)] == plain


def test_risk_analysis_of_shared_documents_is_that_of_copies(model: Model) -> None:
    """analyze_plan looks a document or finding met again up by identity: a plan whose classes share nothing
    (a deep copy, every object distinct) gives the same risks, in the same order."""
    plan = synthesize(model)
    assert analyze_plan(copy.deepcopy(plan)) == analyze_plan(plan)


def test_locations_read_as_a_dict_of_locations() -> None:
    doc = yamlmarks.parse_marked("a:\n  b: [1, 2]\n", "f.yaml", [])
    plain = {path: Location(*mark) for path, mark in doc.value_locations.marks.items()}
    assert dict(doc.value_locations) == plain and doc.value_locations == plain
    assert doc.value_locations[("a", "b", 1)] == Location("f.yaml", 2, 10)
    assert doc.value_locations.get(("x",)) is None and ("a", "b") in doc.value_locations
    assert doc.value_locations.setdefault(("a",), Location("g.yaml", 9, 9)) == Location("f.yaml", 2, 3)
    assert doc.value_locations.setdefault(("z",), Location("g.yaml", 9, 9)) == Location("g.yaml", 9, 9)


@pytest.mark.parametrize("folder", BLUEPRINTS, ids=lambda p: p.parent.name if p.name == "blueprint" else p.name)
def test_merged_locations_are_those_merged_section_by_section(folder: Path) -> None:
    """The loader merges the files' locations in one pass; merged a section at a time, in each file's order of
    sections (every section here is taken), they are the same, in the same order."""
    values: dict = {}
    keys: dict = {}
    for file in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")):
        doc = yamlmarks.parse_marked(file.read_text("utf-8"), "f", [])
        for section in doc.data or {}:
            values.update((p, m) for p, m in doc.value_locations.marks.items() if p and p[0] == section
                          and p not in values)
            keys.update((p, m) for p, m in doc.key_locations.marks.items() if p and p[0] == section and p not in keys)
    loaded = load_blueprint(folder)
    shown = {p: m[1:] for p, m in values.items()}
    assert [(p, m[1:]) for p, m in loaded.value_locations.marks.items() if p] == list(shown.items())
    assert [(p, m[1:]) for p, m in loaded.key_locations.marks.items()] == [(p, m[1:]) for p, m in keys.items()]


def test_accounts_holding_the_same_identities_share_a_class(model: Model) -> None:
    """baseline_classes signs an account by the placements it is in (identities deployed alike counted once):
    accounts signed alike by their identities are in one class."""
    plan = synthesize(model)
    class_of = {a: cls for cls in plan.classes for a in cls.accounts}
    bg = model.blueprint.organization.break_glass.account
    by_signature: dict = {}
    for account, info in model.accounts.items():
        if not info.management:
            by_signature.setdefault((account == bg, placed_identities(model, account)), set()).add(class_of[account].key)
    assert all(len(keys) == 1 for keys in by_signature.values())


def test_the_placeholder_error_case_is_among_the_walked_blueprints() -> None:
    assert any(f.parent.name == "placeholder-outside-policy-text" for f in _LOADABLE)
