"""guardrails.gc_policy: no collection during a compilation, its objects straight to the oldest generation, and the
cyclic garbage of many compilations still collected."""

from __future__ import annotations

import gc
import weakref

import pytest

from guardrails import gc_policy
from guardrails.gc_policy import fewer_collections


class _Node:
    """An object that can be part of a reference cycle (and be weakly referenced)."""


@pytest.fixture(autouse=True)
def _fresh_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_policy, "_made_since_full_collection", 0)


def test_no_collection_in_the_block_and_its_objects_join_the_oldest_generation() -> None:
    with fewer_collections():
        assert not gc.isenabled()
        made = [[index] for index in range(5000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 100  # no young pass is due: the block's objects are not young any more
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(made) in oldest and id(made[-1]) in oldest
    assert gc_policy._made_since_full_collection >= 5000


def test_cyclic_garbage_of_earlier_blocks_is_collected_once_they_made_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_policy, "FULL_COLLECTION_AFTER", 1000)
    with fewer_collections():
        node = _Node()
        node.self = node  # a cycle: only the collector frees it
        left = weakref.ref(node)
        del node
        kept = [[index] for index in range(2000)]  # more than FULL_COLLECTION_AFTER objects made
    with fewer_collections():
        assert left() is None  # the next block started with a full collection
    assert gc_policy._made_since_full_collection < 1000
    assert len(kept) == 2000


def test_a_disabled_collector_stays_disabled_and_frozen_objects_stay_frozen() -> None:
    gc.disable()
    try:
        with fewer_collections():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            [[index] for index in range(100)]
        assert gc.get_freeze_count() >= frozen  # someone else's frozen objects are not unfrozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()
