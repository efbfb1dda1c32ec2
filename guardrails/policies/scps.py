"""SCPs and RCPs per target: catalog guardrails packed within the AWS quotas, then the blueprint's explicit SCPs.

Quotas: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
"""

from __future__ import annotations

import re

from guardrails.blueprint.schema import ExplicitScp
from guardrails.diagnostics import Diagnostic
from guardrails.iam.arns import policy_arn, role_arn
from guardrails.model import catalog as cat
from guardrails.model.build import CatalogAttachment, Model
from guardrails.policies.ir import Condition, OrgInfo, PolicyDocument, Principal, ServiceControlPolicy, Statement
from guardrails.policies.limits import effective_limits
from guardrails.policies.packing import PackingError, Unit, pack
from guardrails.policies.statements import POLICY_PATH, camel, convert_statement, slug


def privileged_role_names(info: OrgInfo) -> tuple[str, ...]:
    """Roles that guardrails must never block: break-glass first, then the deployment principals."""
    names = [info.break_glass_role, info.deployment_role, info.management_deployment_role, *info.deployment_principals]
    return tuple(dict.fromkeys(names))



def service_control_policies(model: Model, info: OrgInfo, problems: list[Diagnostic]
                              ) -> tuple[tuple[ServiceControlPolicy, ...], tuple[ServiceControlPolicy, ...]]:
    """SCPs and RCPs per target: catalog guardrails packed within the quotas, then the explicit SCPs."""
    bp = model.blueprint
    org = bp.organization
    limits = effective_limits(bp.limits)
    slots = org.policy_slots
    context = {"allowed_regions": info.allowed_regions, "privileged_roles": privileged_role_names(info),
               "org_id": (info.org_id,), "boundary_policies": _boundary_policy_arns(model, info)}
    exemption = Condition("ArnNotLike", "aws:PrincipalArn",
                          tuple(sorted(role_arn(info.partition, "*", n) for n in privileged_role_names(info))))
    scps: list[ServiceControlPolicy] = []
    rcps: list[ServiceControlPolicy] = []
    names: dict[str, tuple[str | int, ...]] = {}

    attached: dict[str, list[CatalogAttachment]] = {}
    for attachment in model.attachments:
        attached.setdefault(attachment.target, []).append(attachment)

    def attach(target: str, slug: str, explicit: list[ExplicitScp], yaml_path: tuple[str | int, ...]) -> None:
        units: dict[str, list[Unit]] = {"scp": [], "rcp": []}
        for attachment in attached.get(target, []):
            # The model stage has checked ids and parameters (with locations); here they are known good.
            guardrail_id = attachment.guardrail_id
            guardrail = cat.load_catalog()[guardrail_id]
            values = cat.resolve_parameters(guardrail, attachment.given, context)
            statements = []
            for template in guardrail.statements:
                statement = convert_statement(cat.expand(template, values), template["sid"], info, origin=guardrail_id)
                if guardrail.exempt_privileged:
                    conditions = tuple(sorted((*statement.conditions, exemption)))
                    statement = Statement(**{**statement.__dict__, "conditions": conditions})
                if guardrail.kind == "rcp":  # RCP statements apply to every principal: Principal "*"
                    statement = Statement(**{**statement.__dict__, "principals": (Principal("*", ("*",)),)})
                statements.append(statement)
            units["rcp" if guardrail.kind == "rcp" else "scp"].append(Unit(guardrail_id, tuple(statements)))
        for kind, policy_type, out in (("scp", "SERVICE_CONTROL_POLICY", scps),
                                       ("rcp", "RESOURCE_CONTROL_POLICY", rcps)):
            if not units[kind]:
                continue
            quota = limits[f"{kind}s_per_target"].value
            reserved = slots.reserved_scps if kind == "scp" else slots.reserved_rcps
            if kind == "scp" and org.control_tower and target.removeprefix("ou:") in org.control_tower.managed_units:
                reserved += org.control_tower.reserved_scps  # Control Tower's own SCPs on its registered OUs
            taken = 1 + (len(explicit) if kind == "scp" else 0)  # FullAWSAccess / RCPFullAWSAccess, explicit SCPs
            free = quota - taken - reserved - slots.free
            try:
                packed = pack(target, units[kind], limit=limits[f"{kind}_chars"].value, slots=max(free, 0),
                              kind=kind.upper())
            except PackingError as exc:
                problems.append(Diagnostic.of(
                    "GR304", str(exc), model.source.where_key(*yaml_path, "guardrails"),
                    f"slot map of {target} ({quota} {kind.upper()}s per target: 1 default full-access policy, "
                    f"{taken - 1} explicit, {reserved} reserved, {slots.free} kept free for rollouts): "
                    + "; ".join(f"{row.policy} = {', '.join(row.guardrails)} ({row.chars} chars)"
                                for row in exc.slot_map)
                    + ". Attach some guardrails on a parent OU, drop one, or raise the quota under `limits`."))
                continue
            prefix = "guardrails-" if kind == "scp" else "guardrails-rcp-"
            for index, (members, document) in enumerate(packed.policies):
                suffix = "" if index == 0 else f"-{index + 1}"
                ids = tuple(u.guardrail for u in members)
                # Guardrails that deny break-glass on purpose (catalog locks_break_glass): their Sids, for the
                # lockout proof. Merged statements keep the first Sid, so only unmerged policies qualify.
                intended = tuple(sorted(st.sid for u in members if cat.load_catalog()[u.guardrail].locks_break_glass
                                        or u.guardrail in org.intended_denials for st in u.statements))
                out.append(ServiceControlPolicy(
                    key=f"{prefix.replace('-', '_')}{slug.replace('-', '_')}{suffix.replace('-', '_')}",
                    name=f"{prefix}{slug}{suffix}",
                    description=f"Guardrails from the catalog attached to {target}: {', '.join(ids)}",
                    document=document, target=target, guardrails=ids, policy_type=policy_type,
                    merged=packed.merged, intended_denials=intended,
                    origin=str(model.source.where_key(*yaml_path, "guardrails"))))
        for index, scp in enumerate(explicit):
            where = (*yaml_path, "scps", index)
            if scp.name in names or scp.name.startswith("guardrails-"):
                problems.append(Diagnostic.of("GR302", f"SCP name {scp.name!r} is used twice or reserved",
                                              model.source.where(*where, "name"),
                                              "SCP names are unique in the organization; "
                                              "the prefix guardrails- is reserved for catalog policies"))
                continue
            names[scp.name] = where
            stmts = tuple(convert_statement(s, f"{camel(scp.name)}{i + 1}", info,
                                            str(model.source.where(*where, "statements", i)))
                          for i, s in enumerate(scp.statements))
            unknown = sorted(set(scp.intended_denials) - {st.sid for st in stmts if st.effect == "Deny"})
            for sid in unknown:
                problems.append(Diagnostic.of("GR301", f"intended_denials names {sid!r}, which is no Deny statement "
                                              f"of SCP {scp.name!r}", model.source.where(*where, "intended_denials"),
                                              "list the Sids of this SCP's Deny statements"))
            scps.append(ServiceControlPolicy(key=re.sub(r"\W", "_", scp.name), name=scp.name,
                                             description=scp.description or f"SCP {scp.name}",
                                             document=PolicyDocument(stmts), target=target,
                                             intended_denials=tuple(sorted(scp.intended_denials)),
                                             existing_id=scp.id, origin=str(model.source.where_key(*where))))

    attach("root", "root", org.scps, ("organization",))
    for unit in model.units.values():
        yaml_path: tuple[str | int, ...] = ("organization",)
        for part in unit.path.split("/"):
            yaml_path = (*yaml_path, "units", part)
        attach(f"ou:{unit.path}", "ou-" + slug(unit.path), unit.spec.scps, yaml_path)
        for index, account in enumerate(unit.spec.accounts):
            attach(f"account:{account.name}", "account-" + account.name, account.scps,
                   (*yaml_path, "accounts", index))
    return tuple(scps), tuple(rcps)


def _boundary_policy_arns(model: Model, info: OrgInfo) -> tuple[str, ...]:
    """ARN patterns (any account) of the blueprint's permission-boundary policies, for protect-boundaries."""
    return tuple(sorted(policy_arn(info.partition, "*", b.path or POLICY_PATH, b.name or key)
                        for key, b in model.blueprint.permission_boundaries.items()))

