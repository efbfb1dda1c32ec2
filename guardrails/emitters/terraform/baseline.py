"""``terraform/modules/baseline-<class>/``: one child module per account class (inputs: account_id, region).

    versions.tf variables.tf outputs.tf
    iam_policies.tf roles.tf groups.tf users.tf password_policy.tf identity_providers.tf
    moved.tf            moved blocks of renamed entries (blueprint ``moved_from``)
    saml/<name>.xml     SAML metadata, read with file("${path.module}/saml/<name>.xml")

Every IR policy document becomes a ``data "aws_iam_policy_document"`` (one ``statement`` block per statement,
readable in a PR diff); IAM policies use its ``json``. Resource names are the IR keys
(``aws_iam_role.role_ci_deployer``, ``data.aws_iam_policy_document.trust_role_ci_deployer``, attachments
``<owner key>__<policy key>`` or ``<owner key>__aws_<managed policy>``).

checkov kinds: ``role``, ``role_trust``, ``role_policy_attachment``, ``role_inline_policy`` (key: the role's key),
``managed_policy``/``boundary`` (the document's data source), ``group``, ``group_policy_attachment``, ``user``,
``break_glass_user`` (users tagged ``guardrails:purpose=break-glass``), ``password_policy`` (key: the class),
``oidc_provider``, ``saml_provider``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from guardrails.emitters import header_text
from guardrails.emitters.terraform.hcl import Hcl, path_segment, quote, ref, tf_name, unique
from guardrails.emitters.terraform.render import ROOT, Block, Blocks, render, render_blocks, versions
from guardrails.policies.ir import ACCOUNT_ID, Baseline, BaselineClass, Plan, PolicyRef, Role, User

BREAK_GLASS_TAG = ("guardrails:purpose", "break-glass")


def module_directory(cls: BaselineClass) -> str:
    return f"{ROOT}/modules/baseline-{path_segment(cls.key)}"


@dataclass(frozen=True)
class Attachment:
    """One managed policy attached to a role or group: resource name and the policy ARN expression."""

    name: str
    policy_arn: Hcl


@lru_cache(maxsize=1 << 14)
def _attachments(owner: str, refs: tuple[PolicyRef, ...], partition: str) -> tuple[Attachment, ...]:
    """The attachments of one role or group; cached, a pure function of its arguments (every class asks again)."""
    out = []
    for policy in refs:
        if policy.kind == "local":
            out.append(Attachment(f"{owner}__{policy.name}", ref(f"aws_iam_policy.{policy.name}.arn")))
        else:
            out.append(Attachment(f"{owner}__aws_{tf_name(policy.name)}", quote(policy.aws_arn(partition))))
    unique({a.name: a.name for a in out}, "attachments")
    return tuple(out)


def _trusted_providers(role: Role, baseline: Baseline, partition: str) -> list[str]:
    """Identity providers of this module that the role's trust names: the role must wait for them."""
    principals = {arn for statement in role.trust.statements for principal in statement.principals
                  if principal.kind == "Federated" for arn in principal.identifiers}
    prefix = f"arn:{partition}:iam::{ACCOUNT_ID}:"
    found = [f"aws_iam_openid_connect_provider.{p.key}" for p in baseline.oidc_providers
             if f"{prefix}oidc-provider/{p.host}" in principals]
    found += [f"aws_iam_saml_provider.{p.key}" for p in baseline.saml_providers
              if f"{prefix}saml-provider/{p.name}" in principals]
    return found


def user_kind(user: User) -> str:
    """Suppression kind of an IAM user: the plan tags break-glass users (their names are the blueprint's)."""
    return "break_glass_user" if BREAK_GLASS_TAG in user.tags else "user"


def saml_metadata_file(name: str) -> str:
    return f"saml/{path_segment(name)}.xml"


def _with_xml_header(plan: Plan, metadata: str) -> str:
    """The metadata with the generated-file header as an XML comment (after the XML declaration, if any)."""
    note = "<!-- " + header_text(plan).replace("--", "- -") + " -->\n"
    declaration = re.match(r"<\?xml[^>]*\?>\s*", metadata)
    if declaration:
        return declaration.group(0).rstrip() + "\n" + note + metadata[declaration.end():]
    return note + metadata


def _chain(moved_from: tuple[str, ...], key: str) -> list[tuple[str, str]]:
    """(old key, new key) steps from the oldest former key to the current one: Terraform follows chained moves."""
    keys = [*moved_from, key]
    return list(zip(keys, keys[1:]))


def moves(baseline: Baseline, role_attachments: dict[str, tuple[Attachment, ...]],
          group_attachments: dict[str, tuple[Attachment, ...]]) -> list[tuple[str, str]]:
    """(from, to) addresses of every resource of a renamed role, group, user or policy (``moved_from``), one
    step per rename. Resource names begin with their owner's key (``<owner>__<policy>``, ``<role>_inline_<name>``):
    only the owner part moves, since attached policies are job-function policies, which have no ``moved_from``."""
    out: list[tuple[str, str]] = []

    def step(owner_key: str, moved_from: tuple[str, ...], names: list[tuple[str, str]]) -> None:
        # names: (resource type, resource name) of the owner's resources under its current key
        for old, new in _chain(moved_from, owner_key):
            out.extend((f"{kind}.{old}{name[len(owner_key):]}", f"{kind}.{new}{name[len(owner_key):]}")
                       for kind, name in names)

    for policy in baseline.managed_policies:
        step(policy.key, policy.moved_from, [("aws_iam_policy", policy.key)])
    for role in baseline.roles:
        step(role.key, role.moved_from, [
            ("aws_iam_role", role.key),
            *(("aws_iam_role_policy_attachment", a.name) for a in role_attachments[role.key]),
            *(("aws_iam_role_policy", f"{role.key}_inline_{tf_name(name)}") for name, _ in role.inline_policies),
            *([("aws_iam_instance_profile", role.key)] if role.instance_profile else [])])
    for group in baseline.groups:
        step(group.key, group.moved_from, [
            ("aws_iam_group", group.key),
            *(("aws_iam_group_policy_attachment", a.name) for a in group_attachments[group.key])])
    for user in baseline.users:
        step(user.key, user.moved_from, [("aws_iam_user", user.key),
                                         *([("aws_iam_user_group_membership", user.key)] if user.groups else [])])
    return out


def inline_document(role_key: str, name: str) -> str:
    """Data source name of a role's inline policy document."""
    return f"{role_key}_inline_{tf_name(name)}"


def principal_files(plan: Plan, cls: BaselineClass, role_attachments: dict[str, tuple[Attachment, ...]],
                    group_attachments: dict[str, tuple[Attachment, ...]]) -> dict[str, tuple[str, list[Block]]]:
    """roles.tf, iam_policies.tf and groups.tf (the last two when the class has some) as their heading template
    and one block per principal, for :func:`render_blocks`: every context is made of plan values alone."""
    baseline = cls.baseline
    partition = plan.org.partition
    files = {"roles.tf": ("roles.tf.j2", [
        ("role.tf.j2", {"role": r, "attachments": role_attachments[r.key],
                        "depends_on": tuple(_trusted_providers(r, baseline, partition)),
                        "inline_names": tuple(inline_document(r.key, name) for name, _ in r.inline_policies)})
        for r in baseline.roles])}
    if baseline.managed_policies:
        files["iam_policies.tf"] = ("iam_policies.tf.j2", [
            ("managed_policy.tf.j2", {"policy": p}) for p in baseline.managed_policies])
    if baseline.groups:
        files["groups.tf"] = ("groups.tf.j2", [
            ("group.tf.j2", {"group": g, "attachments": group_attachments[g.key]}) for g in baseline.groups])
    return files


def baseline_module(plan: Plan, cls: BaselineClass, memo: Blocks | None = None) -> dict[str, str]:
    """``{path: text}`` of the class's module. ``memo``: rendered principals shared across classes (:func:`block`)."""
    directory = module_directory(cls)
    baseline = cls.baseline
    partition = plan.org.partition
    # Data source names: one namespace per module for managed, trust and inline policy documents.
    documents: dict[str, str] = {p.key: p.key for p in baseline.managed_policies}
    for role in baseline.roles:
        documents[f"trust {role.key}"] = f"trust_{role.key}"
        for name, _ in role.inline_policies:
            documents[f"inline {role.key} {name}"] = inline_document(role.key, name)
    unique(documents, "policy documents")
    role_attachments = {r.key: _attachments(r.key, r.policies, partition) for r in baseline.roles}
    group_attachments = {g.key: _attachments(g.key, g.policies, partition) for g in baseline.groups}
    context: dict[str, object] = {
        "baseline": baseline, "cls": cls, "user_groups": {u.key: [f"aws_iam_group.{g}.name" for g in u.groups]
                                                          for u in baseline.users},
        "saml_file": saml_metadata_file, "user_kind": user_kind}
    moved = moves(baseline, role_attachments, group_attachments)
    files = {
        f"{directory}/versions.tf": versions(plan, root=False),
        f"{directory}/variables.tf": render(plan, "variables.tf.j2"),
        f"{directory}/outputs.tf": render(plan, "module_outputs.tf.j2", **context),
    }
    for name, (heading, blocks) in principal_files(plan, cls, role_attachments, group_attachments).items():
        files[f"{directory}/{name}"] = render_blocks(plan, heading, blocks, memo)
    optional = {
        "users.tf": baseline.users,
        "password_policy.tf": baseline.password_policy,
        "identity_providers.tf": baseline.oidc_providers or baseline.saml_providers,
    }
    for name, content in optional.items():
        if content:
            files[f"{directory}/{name}"] = render(plan, f"{name}.j2", **context)
    if moved:
        files[f"{directory}/moved.tf"] = render(plan, "moved.tf.j2", moves=moved)
    for provider in baseline.saml_providers:
        files[f"{directory}/{saml_metadata_file(provider.name)}"] = _with_xml_header(plan, provider.metadata)
    return files
