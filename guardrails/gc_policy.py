"""How a compilation uses Python's cyclic garbage collector (https://docs.python.org/3/library/gc.html).

A compilation makes a few hundred thousand objects that live until it ends (the IAM database, the plan, the proofs'
caches) and hardly any cyclic garbage: the collector only traversed them again and again (0.2 s of a 1.5 s
``check`` at its default threshold; with a raised one still 4% of a 1,000-account compile and 7% of a 5,000-account
one). So no automatic collection runs during a compilation (:func:`fewer_collections`), and what it made goes to the
oldest generation when it ends: the young generations' first pass would traverse all of it once more only to find it
alive (0.03 s at 1,000 accounts, after the compile).

What little cyclic garbage a compilation leaves (measured: 4 MiB of peak memory at 1,000 accounts, 60 MiB at 5,000)
then waits for a full collection, which CPython starts by its own count of objects that survived the young
generations — a count these objects bypass. A process that compiles again and again (the test suite, a library
user) would keep that garbage: once the compilations since the last full collection made more than
:data:`FULL_COLLECTION_AFTER` objects, the next one starts with a full collection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Objects made by compilations since the last full collection that start one (the example's compile makes about
# 0.05 million, 1,000 accounts about 0.15 million): a full collection of this process costs 0.1-0.2 s.
FULL_COLLECTION_AFTER = 1_000_000
_made_since_full_collection = 0  # this process's compilations; their objects are in the oldest generation


@contextmanager
def fewer_collections() -> Iterator[None]:
    """No automatic collection in the block; what it made joins the oldest generation (see the module docstring)."""
    global _made_since_full_collection  # noqa: PLW0603 - one collector per process
    enabled = gc.isenabled()
    if enabled and _made_since_full_collection > FULL_COLLECTION_AFTER:
        gc.collect()
        _made_since_full_collection = 0
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # gc.freeze() moves every tracked object to the permanent generation and unfreeze() moves them all into
            # the oldest one: no traversal. Skipped when someone else froze objects (unfreeze would free theirs).
            if not gc.get_freeze_count():
                _made_since_full_collection += gc.get_count()[0]  # net allocations since the last young pass
                gc.freeze()
                gc.unfreeze()
            gc.enable()
