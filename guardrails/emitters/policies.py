"""Every policy document as stable JSON under ``policies/``, for reviewers and other tools.

Layout: ``policies/scp/<name>.json`` and ``policies/<class>/<kind>/<name>.json`` where kind is
``managed``, ``boundary`` or ``trust``. Placeholders ``${account_id}`` and ``${region}`` are
kept: one document serves every account of its class.
"""

from __future__ import annotations

from guardrails.policies.ir import Plan


def emit(plan: Plan) -> dict[str, str]:
    files: dict[str, str] = {}
    for scp in plan.scps:
        files[f"policies/scp/{scp.name}.json"] = scp.document.render()
    for cls in plan.classes:
        base = f"policies/accounts/{cls.key}"
        for policy in cls.baseline.managed_policies:
            files[f"{base}/{policy.kind}/{policy.name}.json"] = policy.document.render()
        for role in cls.baseline.roles:
            files[f"{base}/trust/{role.name}.json"] = role.trust.render()
            for name, document in role.inline_policies:
                files[f"{base}/inline/{role.name}-{name}.json"] = document.render()
    return files
