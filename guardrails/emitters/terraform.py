"""Terraform for the plan: one organization root module, one baseline module per account class, one small
root module per account.

Layout (paths relative to ``output/``)::

    terraform/organization/            root module, applied in the management account
        versions.tf backend.tf providers.tf
        organization.tf                organization (imported), OUs, member accounts, import blocks
        scps.tf                        per SCP and RCP: policy document, policy, attachment
        outputs.tf
    terraform/modules/baseline-<class>/  one module per BaselineClass (inputs: account_id, region)
        versions.tf variables.tf outputs.tf
        iam_policies.tf roles.tf groups.tf users.tf password_policy.tf identity_providers.tf
        saml/<name>.xml                SAML metadata, read with file("${path.module}/saml/<name>.xml")
    terraform/accounts/<account>/      root module per account (management included): calls its class's
        versions.tf backend.tf providers.tf main.tf     module and imports what already exists

With a security plan (blueprint ``security``; built by :mod:`guardrails.emitters.terraform_security`)::

    terraform/organization/
        organization.tf                also manages trusted access (aws_service_access_principals)
        security.tf                    organization trail, delegated administrators, root access features
    terraform/modules/account-security/  the same for every account, one instance per region (inputs:
        versions.tf variables.tf         account_id, region, home_region, allowed_region, alert_region,
        config.tf config_rules.tf        log_kms_key_arn, config_role_arn)
        alerts.tf account_settings.tf outputs.tf
    terraform/accounts/<account>/
        providers.tf                   plus one aliased provider per region of SecurityPlan.alert_regions
        security.tf                    Config's service-linked role, the module once per region
        log_archive.tf                 log-archive account only: log bucket and its KMS key
        access_analyzer.tf             analyzer account only: organization analyzers
    An account without a baseline class gets a root module with security.tf only.
    Apply order: organization, the log-archive account, the analyzer account, every other account.

Escaping: templates never write a value directly. Every ``{{ … }}`` must produce an :class:`Hcl` value, made
only by this module's filters (``q`` quotes and escapes a string, ``ident``/``ref``/``num``/``bool`` check
their input); the Jinja ``finalize`` hook raises for anything else, so no value reaches HCL unescaped. ``q``
renders the IR placeholders ``${account_id}``/``${region}`` as ``${var.account_id}``/``${var.region}`` and
escapes every other ``${``/``%{`` (IAM policy variables such as ``${aws:username}``) as ``$${``/``%%{``.

Every IR policy document becomes a ``data "aws_iam_policy_document"`` (one ``statement`` block per statement,
readable in a PR diff); SCPs use its ``minified_json``, IAM policies its ``json``. Resource names are the IR
keys (``aws_iam_role.role_ci_deployer``, ``data.aws_iam_policy_document.trust_role_ci_deployer``, attachments
``<owner key>__<policy key>`` or ``<owner key>__aws_<managed policy>``); OUs and accounts use their path/name.

Formatting: the templates write two-space indentation; :func:`align` then lines up the ``=`` of consecutive
single-line attributes exactly as ``terraform fmt`` (hclwrite's formatCells) does, so the output is canonical
without running Terraform (the tests check it with the real formatter).

checkov: entries of ``guardrails/data/suppressions.yaml`` with format terraform (or both) become
``#checkov:skip=CHECK:reason`` lines inside the matching block. Kinds: ``role``, ``role_trust``,
``role_policy_attachment``, ``role_inline_policy`` (key: the role's key), ``managed_policy``/``boundary`` (the
document's data source), ``group``, ``group_policy_attachment``, ``user``, ``break_glass_user`` (users tagged
``guardrails:purpose=break-glass``), ``scp``, ``password_policy`` (key: the class), ``oidc_provider``,
``saml_provider``; security baseline: ``security_key_policy`` (key: ``alerts`` or ``log_archive``), ``log_bucket``
(key: ``log_archive``), ``config_recorder`` (key: its name), ``organization_trail`` (key: the trail's name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import jinja2

from guardrails.emitters import header_text
from guardrails.emitters.suppressions import Suppression, suppressions_for
from guardrails.policies.ir import (
    ACCOUNT_ID,
    REGION,
    Account,
    Baseline,
    BaselineClass,
    Plan,
    PolicyRef,
    Role,
    User,
)

ROOT = "terraform"
REQUIRED_VERSION = ">= 1.5"  # import blocks: https://developer.hashicorp.com/terraform/language/import
AWS_PROVIDER = "~> 6.0"
PASSWORD_POLICY_IMPORT_ID = "iam-account-password-policy"  # the fixed id the provider imports it by
BREAK_GLASS_TAG = ("guardrails:purpose", "break-glass")


# ----------------------------------------------------------------------------- escaping


@dataclass(frozen=True)
class Hcl:
    """A fragment of HCL that a filter produced; the only thing templates may output."""

    text: str

    def __str__(self) -> str:
        return self.text


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])+")
_PLACEHOLDERS = {ACCOUNT_ID: "var.account_id", REGION: "var.region"}
_PLACEHOLDER_SPLIT = re.compile("(" + "|".join(re.escape(p) for p in _PLACEHOLDERS) + ")")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _expect(value: object, kind: type, what: str) -> None:
    """Filters take exactly one type; a StrictUndefined raises its own error here."""
    if isinstance(value, jinja2.Undefined):
        str(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {what}, got {value!r}")


def _escape_literal(text: str) -> str:
    """Escape literal text for the inside of an HCL quoted template string."""
    out = []
    for ch in text:
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    # Template sequences: https://developer.hashicorp.com/terraform/language/expressions/strings#escape-sequences-1
    return "".join(out).replace("${", "$${").replace("%{", "%%{")


def quote(value: str) -> Hcl:
    """An HCL string for ``value``: escaped, with the IR placeholders turned into variable references."""
    _expect(value, str, "a string")
    if value in _PLACEHOLDERS:
        return Hcl(_PLACEHOLDERS[value])  # a lone interpolation: `terraform fmt` unwraps "${x}" to x
    pieces = _PLACEHOLDER_SPLIT.split(value)  # literal, placeholder, literal, …
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            parts.append("${" + _PLACEHOLDERS[piece] + "}")
            continue
        dollars = ""
        if index + 1 < len(pieces):
            # A "$" right before an interpolation would turn it into the escape "$${": write such dollars
            # as an interpolated string literal instead.
            dollars = piece[len(piece.rstrip("$")):]
            piece = piece.rstrip("$")
        parts.append(_escape_literal(piece) + (f'${{"{dollars}"}}' if dollars else ""))
    return Hcl('"' + "".join(parts) + '"')


def ident(value: str) -> Hcl:
    """A Terraform identifier (resource name, block label), checked."""
    _expect(value, str, "an identifier")
    if not _IDENT.fullmatch(value):
        raise ValueError(f"not a Terraform identifier: {value!r}")
    return Hcl(value)


def ref(value: str) -> Hcl:
    """A reference expression such as ``aws_iam_role.x.arn``, checked."""
    _expect(value, str, "a reference")
    if not _REF.fullmatch(value):
        raise ValueError(f"not a Terraform reference: {value!r}")
    return Hcl(value)


def number(value: int) -> Hcl:
    _expect(value, int, "an integer")
    return Hcl(str(value))


def boolean(value: bool) -> Hcl:
    _expect(value, bool, "a boolean")
    return Hcl("true" if value else "false")


def _hcl_list(items: Sequence[Hcl], level: int) -> Hcl:
    """One item inline, more one per line (readable diffs); ``level`` is the attribute's indent level."""
    if len(items) <= 1:
        return Hcl("[" + "".join(i.text for i in items) + "]")
    pad = "  " * (level + 1)
    return Hcl("[\n" + "".join(f"{pad}{i.text},\n" for i in items) + "  " * level + "]")


def quote_list(values: Iterable[str], level: int) -> Hcl:
    return _hcl_list([quote(v) for v in values], level)


def ref_list(values: Iterable[str], level: int) -> Hcl:
    return _hcl_list([ref(v) for v in values], level)


def comment(text: str) -> Hcl:
    """Text for a ``#`` comment line: one line, no control characters."""
    _expect(text, str, "comment text")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"not a one-line comment: {text!r}")
    return Hcl(text)


def skip(suppression: Suppression) -> Hcl:
    """A checkov skip comment (https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html)."""
    if not re.fullmatch(r"CKV2?_[A-Z0-9_]+", suppression.check):
        raise ValueError(f"not a checkov check id: {suppression.check!r}")
    return Hcl(f"#checkov:skip={suppression.check}:{comment(suppression.reason).text}")


def file_name(path: str) -> Hcl:
    """A relative file path for use inside a quoted string: only characters that need no escaping."""
    _expect(path, str, "a file path")
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*", path):
        raise ValueError(f"not a plain relative file path: {path!r}")
    return Hcl(path)


def _suppressions(kind: str, key: str, accepted: tuple[tuple[str, str], ...] = ()) -> list[Suppression]:
    """The reasoned package suppressions for one resource, then the findings the blueprint accepts for it."""
    found = suppressions_for("terraform", kind, key)
    checks = {s.check for s in found}
    found += [Suppression(check, "terraform", kind, key, reason) for check, reason in accepted if check not in checks]
    return found


def _finalize(value: object) -> str:
    if isinstance(value, Hcl):
        return value.text
    raise TypeError(f"unescaped value in a Terraform template: {value!r} (pass it through a filter such as |q)")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("guardrails.emitters", "templates/terraform"),
        undefined=jinja2.StrictUndefined, finalize=_finalize, autoescape=False,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(q=quote, ident=ident, ref=ref, num=number, bool=boolean, qlist=quote_list,
                       rlist=ref_list, comment=comment, skip=skip, file_name=file_name)
    env.globals.update(suppressions=_suppressions)
    return env


# ----------------------------------------------------------------------------- formatting

_ASSIGN = re.compile(r'( *)([A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*") += (.*)')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _net_brackets(expression: str) -> int:
    # Inside our strings the only template sequences are complete "${var.x}" interpolations (net zero).
    bare = _STRING.sub('""', expression)
    return sum(bare.count(c) for c in "{[(") - sum(bare.count(c) for c in "}])")


def align(text: str) -> str:
    """Align ``=`` of consecutive one-line attributes like hclwrite's formatCells; tidy blank lines."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    chain: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(lead) for lead, _ in chain), default=0)
        out.extend(f"{lead.ljust(width)} = {rest}" for lead, rest in chain)
        chain.clear()

    for line in lines:
        match = _ASSIGN.fullmatch(line)
        if match and _net_brackets(match.group(3)) == 0:
            chain.append((match.group(1) + match.group(2), match.group(3)))
            continue
        flush()
        if line == "" and (not out or out[-1] == "" or out[-1].endswith("{")):
            continue  # no leading, doubled or block-opening blank lines
        if line.strip() == "}" and out and out[-1] == "":
            out.pop()
        out.append(line)
    flush()
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- names


def tf_name(text: str) -> str:
    """A resource name from a human name or path: ``Workloads/Prod`` → ``workloads_prod``."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name if name[:1].isalpha() else f"n_{name}"


def _unique(names: dict[str, str], what: str) -> dict[str, str]:
    seen: dict[str, str] = {}
    for source, name in names.items():
        if name in seen:
            raise ValueError(f"{what} {source!r} and {seen[name]!r} map to the same Terraform name {name!r}")
        seen[name] = source
    return names


def _path_segment(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"not usable as a directory or file name: {name!r}")
    return name


# ----------------------------------------------------------------------------- rendering


def _render(plan: Plan, template: str, **context: object) -> str:
    body = environment().get_template(template).render(**context)
    return align(f"# {comment(header_text(plan)).text}\n\n{body}")


def _check_documents(plan: Plan) -> None:
    """aws_iam_policy_document turns every ``&{`` into ``${`` (its old policy-variable syntax), so a literal
    ``&{`` cannot be expressed through it; refuse rather than grant something else."""
    documents = [s.document for s in (*plan.scps, *plan.rcps)]
    for cls in plan.classes:
        documents += [p.document for p in cls.baseline.managed_policies]
        for role in cls.baseline.roles:
            documents += [role.trust, *(d for _, d in role.inline_policies)]
    for document in documents:
        if "&{" in document.render():
            raise ValueError(f"a policy document contains '&{{', which aws_iam_policy_document would turn into "
                             f"'${{': {document.render(minified=True)[:200]}")


def emit(plan: Plan) -> dict[str, str]:
    """``{path: text}`` for every Terraform file of the plan (paths under ``terraform/``)."""
    _check_documents(plan)
    files: dict[str, str] = {}
    files.update(_organization(plan))
    for cls in plan.classes:
        files.update(_baseline_module(plan, cls))
    for account in sorted(plan.accounts, key=lambda a: a.name):
        files.update(_account_root(plan, account))
    return dict(sorted(files.items()))


def _render_for(plan: Plan) -> Callable[..., str]:
    """``_render`` bound to the plan, for terraform_security."""
    return lambda template, **context: _render(plan, template, **context)


def _versions(plan: Plan, *, root: bool) -> str:
    """versions.tf: root modules also pin Terraform itself; child modules only name their provider."""
    return _render(plan, "versions.tf.j2", root=root, required_version=REQUIRED_VERSION, aws_provider=AWS_PROVIDER)


def _root_files(plan: Plan, directory: str, state_key: str, account_id: str, role: str,
                aliases: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """versions.tf, backend.tf and providers.tf of a root module deployed into ``account_id`` (``aliases``:
    (alias, region) of extra providers)."""
    role_arn = f"arn:{plan.org.partition}:iam::{account_id}:role/{role}"
    return {
        f"{directory}/versions.tf": _versions(plan, root=True),
        f"{directory}/backend.tf": _render(plan, "backend.tf.j2", state_key=state_key),
        f"{directory}/providers.tf": _render(plan, "providers.tf.j2", region=plan.org.home_region,
                                             role_arn=role_arn, account_id=account_id, aliases=list(aliases)),
    }


def _organization(plan: Plan) -> dict[str, str]:
    directory = f"{ROOT}/organization"
    management = plan.management_account
    units = sorted(plan.units, key=lambda u: u.path)
    members = sorted(plan.organization_members, key=lambda a: (a.unit, a.name))
    unit_names = _unique({u.path: tf_name(u.path) for u in units}, "OUs")
    account_names = _unique({a.name: tf_name(a.name) for a in members}, "accounts")
    root_id = plan.org.root_id if plan.org.existing else "aws_organizations_organization.this.roots[0].id"

    by_path = {u.path: u for u in plan.units}

    def parent(unit_path: str) -> Hcl:
        if not unit_path:
            return quote(root_id) if plan.org.existing else ref(root_id)
        unit = by_path[unit_path]
        if unit.managed_by:  # Control Tower's OU: referred to by id, never a resource here
            return quote(unit.existing_id or "")
        return ref(f"aws_organizations_organizational_unit.{unit_names[unit_path]}.id")

    def target(scp_target: str) -> Hcl:
        kind, _, name = scp_target.partition(":")
        if kind == "root":
            return parent("")
        if kind == "ou":
            return parent(name)
        account = plan.account(name)
        return quote(account.id) if account.management else ref(f"aws_organizations_account.{account_names[name]}.id")

    files = _root_files(plan, directory, "guardrails/organization.tfstate", management.id,
                        plan.org.management_deployment_role)
    files[f"{directory}/organization.tf"] = _render(
        plan, "organization.tf.j2", org=plan.org, units=units, accounts=members, unit_names=unit_names,
        account_names=account_names, parent=parent,
        policy_types=["SERVICE_CONTROL_POLICY", *(["RESOURCE_CONTROL_POLICY"] if plan.rcps else [])],
        trusted_services=list(plan.security.trusted_services) if plan.security else [])
    policies = (*plan.scps, *plan.rcps)
    scp_names = _unique({s.key: tf_name(s.key) for s in policies}, "SCPs and RCPs")
    files[f"{directory}/scps.tf"] = _render(plan, "scps.tf.j2", scps=policies, scp_names=scp_names, target=target)
    files[f"{directory}/outputs.tf"] = _render(plan, "organization_outputs.tf.j2", units=units, accounts=members,
                                               unit_names=unit_names, account_names=account_names)
    if plan.security is not None:
        files.update(terraform_security.security_files(plan, _render_for(plan), account_names))
    return files


@dataclass(frozen=True)
class Attachment:
    """One managed policy attached to a role or group: resource name and the policy ARN expression."""

    name: str
    policy_arn: Hcl


def _attachments(owner: str, refs: Iterable[PolicyRef], partition: str) -> list[Attachment]:
    out = []
    for policy in refs:
        if policy.kind == "local":
            out.append(Attachment(f"{owner}__{policy.name}", ref(f"aws_iam_policy.{policy.name}.arn")))
        else:
            out.append(Attachment(f"{owner}__aws_{tf_name(policy.name)}", quote(policy.aws_arn(partition))))
    _unique({a.name: a.name for a in out}, "attachments")
    return out


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
    return f"saml/{_path_segment(name)}.xml"


def _with_xml_header(plan: Plan, metadata: str) -> str:
    """The metadata with the generated-file header as an XML comment (after the XML declaration, if any)."""
    note = "<!-- " + header_text(plan).replace("--", "- -") + " -->\n"
    declaration = re.match(r"<\?xml[^>]*\?>\s*", metadata)
    if declaration:
        return declaration.group(0).rstrip() + "\n" + note + metadata[declaration.end():]
    return note + metadata


def _baseline_module(plan: Plan, cls: BaselineClass) -> dict[str, str]:
    directory = f"{ROOT}/modules/baseline-{_path_segment(cls.key)}"
    baseline = cls.baseline
    partition = plan.org.partition
    # Data source names: one namespace per module for managed, trust and inline policy documents.
    documents: dict[str, str] = {p.key: p.key for p in baseline.managed_policies}
    for role in baseline.roles:
        documents[f"trust {role.key}"] = f"trust_{role.key}"
        for name, _ in role.inline_policies:
            documents[f"inline {role.key} {name}"] = f"{role.key}_inline_{tf_name(name)}"
    _unique(documents, "policy documents")
    context: dict[str, object] = {
        "baseline": baseline, "cls": cls,
        "role_attachments": {r.key: _attachments(r.key, r.policies, partition) for r in baseline.roles},
        "group_attachments": {g.key: _attachments(g.key, g.policies, partition) for g in baseline.groups},
        "depends_on": {r.key: _trusted_providers(r, baseline, partition) for r in baseline.roles},
        "user_groups": {u.key: [f"aws_iam_group.{g}.name" for g in u.groups] for u in baseline.users},
        "inline_name": lambda role, name: documents[f"inline {role.key} {name}"],
        "saml_file": saml_metadata_file, "user_kind": user_kind}
    files = {
        f"{directory}/versions.tf": _versions(plan, root=False),
        f"{directory}/variables.tf": _render(plan, "variables.tf.j2"),
        f"{directory}/outputs.tf": _render(plan, "module_outputs.tf.j2", **context),
        f"{directory}/roles.tf": _render(plan, "roles.tf.j2", **context),
    }
    optional = {
        "iam_policies.tf": baseline.managed_policies,
        "groups.tf": baseline.groups,
        "users.tf": baseline.users,
        "password_policy.tf": baseline.password_policy,
        "identity_providers.tf": baseline.oidc_providers or baseline.saml_providers,
    }
    for name, content in optional.items():
        if content:
            files[f"{directory}/{name}"] = _render(plan, f"{name}.j2", **context)
    for provider in baseline.saml_providers:
        files[f"{directory}/{saml_metadata_file(provider.name)}"] = _with_xml_header(plan, provider.metadata)
    return files


def _account_root(plan: Plan, account: Account) -> dict[str, str]:
    cls = plan.class_of(account.name)
    if cls is None and plan.security is None:
        return {}
    directory = f"{ROOT}/accounts/{_path_segment(account.name)}"
    role = plan.org.management_deployment_role if account.management else plan.org.deployment_role
    files = _root_files(plan, directory, f"guardrails/accounts/{account.name}.tfstate", account.id, role,
                        terraform_security.provider_aliases(plan))
    if plan.security is not None:
        files.update(terraform_security.account_security_files(plan, _render_for(plan), account, directory))
    if cls is None:
        return files
    baseline = cls.baseline
    imports: list[tuple[str, str]] = []  # (address inside module.baseline, import id)
    if baseline.password_policy is not None and baseline.password_policy.existing:
        imports.append(("aws_iam_account_password_policy.this", PASSWORD_POLICY_IMPORT_ID))
    prefix = f"arn:{plan.org.partition}:iam::{account.id}:"
    imports += [(f"aws_iam_openid_connect_provider.{p.key}", f"{prefix}oidc-provider/{p.host}")
                for p in baseline.oidc_providers if p.existing]
    imports += [(f"aws_iam_saml_provider.{p.key}", f"{prefix}saml-provider/{p.name}")
                for p in baseline.saml_providers if p.existing]
    files[f"{directory}/main.tf"] = _render(
        plan, "account_main.tf.j2", account=account, module_source=f"../../modules/baseline-{cls.key}",
        region=plan.org.home_region, imports=imports, class_key=cls.key)
    return files


# At the end: terraform_security builds on this module's filters and helpers.
from guardrails.emitters import terraform_security  # noqa: E402

__all__ = ["Hcl", "align", "emit", "quote", "tf_name"]
