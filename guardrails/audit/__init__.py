"""``guardrails audit``: read one live account (read-only boto3 calls) and compare it with the blueprint.

reader (boto3 → frozen snapshot) → compare (pure: expected account + snapshot → findings) → report (text, JSON).
"""

from guardrails.audit.compare import Finding, audit_findings, expected_account
from guardrails.audit.reader import Snapshot, read_account

__all__ = ["Finding", "Snapshot", "audit_findings", "expected_account", "read_account"]
