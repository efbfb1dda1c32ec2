"""Terraform for the plan: one organization root module, one baseline module per account class, one small
root module per account, and the Identity Center root module.

Layout (paths relative to ``output/``)::

    terraform/organization/              root module, applied in the management account (:mod:`.organization`)
    terraform/modules/baseline-<class>/  one module per BaselineClass, inputs account_id, region (:mod:`.baseline`)
    terraform/accounts/<account>/        root module per account: calls its class's module, imports what
                                         already exists (:mod:`.accounts`)
    terraform/modules/account-security/  with a security plan: the same for every account, one instance per
                                         region (:mod:`.security`)
    terraform/organization-trail/        with a security plan's trail: the organization trail (:mod:`.security`)
    terraform/identity-center/           with ``identity_center`` (:mod:`.identity_center`, its own entry point)

Apply order (:mod:`.order`): organization, the log-archive account, the organization trail, the analyzer account,
every other account, Identity Center; no root module reads at plan time what a later one creates.

Modules: :mod:`.hcl` escapes and checks every value a template writes, :mod:`.render` holds the Jinja environment,
the ``terraform fmt`` alignment and the root-module files; the others each render one part of the layout from the
plan. Policy documents are the plan's (``data "aws_iam_policy_document"``, one ``statement`` block per statement);
nothing here assembles one. SCPs and RCPs use the data source's ``minified_json``, IAM policies its ``json``.
"""

from __future__ import annotations

from guardrails.emitters.terraform.accounts import account_roots
from guardrails.emitters.terraform.baseline import baseline_module
from guardrails.emitters.terraform.hcl import Hcl, check_documents, ident, quote, ref, tf_name
from guardrails.emitters.terraform.identity_center import emit as emit_identity_center
from guardrails.emitters.terraform.organization import organization_files
from guardrails.emitters.terraform.render import Blocks, align, environment
from guardrails.policies.ir import Plan


def emit(plan: Plan) -> dict[str, str]:
    """``{path: text}`` for every Terraform file of the plan but Identity Center's (paths under ``terraform/``)."""
    documents = [s.document for s in (*plan.scps, *plan.rcps)] + [p.document for p in plan.resource_policies]
    for cls in plan.classes:
        documents += [p.document for p in cls.baseline.managed_policies]
        for role in cls.baseline.roles:
            documents += [role.trust, *(d for _, d in role.inline_policies)]
    check_documents(documents)
    files: dict[str, str] = {}
    files.update(organization_files(plan))
    memo: Blocks = {}  # a principal in many classes is rendered once (render.block)
    for cls in plan.classes:
        files.update(baseline_module(plan, cls, memo))
    files.update(account_roots(plan))
    return dict(sorted(files.items()))


__all__ = ["Hcl", "align", "emit", "emit_identity_center", "environment", "ident", "quote", "ref", "tf_name"]
