"""One side of a diff: principal states per account class and SCP Denies per target."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.organization import Account, Organization, PrincipalSpec
from guardrails.evaluation.permission_sets import center_region
from guardrails.iam.arns import sso_role_arn
from guardrails.iam.manifest import EMPTY_CLASS, MANIFEST, AccountClass, CustomerManagedRef, PermissionSetEntry
from guardrails.policies import compare
from guardrails.review.analyzer import _State
from guardrails.review.cohorts import account_invariant
from guardrails.review.permission_sets import PRINCIPAL as PERMISSION_SET
from guardrails.review.permission_sets import assigned
from guardrails.review.statements import _PRINCIPAL_KEYS, _statements, ACCOUNT_ID, AWS_MANAGED, REGION

if TYPE_CHECKING:
    from guardrails.review.analyzer import _Analyzer, _Effective, _Identity
    from guardrails.review.statements import _Stmt


class _Side:
    """One organization, read for the diff: principal states per class, SCP denies per target."""

    def __init__(self, org: Organization, analyzer: _Analyzer) -> None:
        self.org = org
        self.analyzer = analyzer
        self._states: dict[str | None, dict[str, _State]] = {}
        self._scp_denies: dict[str, list[tuple[str, str, _Stmt]]] | None = None
        self._invariant: dict[tuple, bool] = {}

    @property
    def accounts(self) -> dict[str, Account]:
        return self.org.accounts

    def states(self, account: Account) -> dict[str, _State]:
        """Roles, groups and users of the account's class, and the permission sets assigned to the account."""
        if account.class_key not in self._states:
            self._states[account.class_key] = self._class_states(self.org.class_entry(account))
        states = self._states[account.class_key]
        sets = assigned(self.org, account.name)
        if not sets:
            return states
        cls = self.org.class_entry(account)
        return {**states, **{f"{PERMISSION_SET}/{ps.name}": self._permission_set_state(cls, ps) for ps in sets}}

    def _permission_set_state(self, cls: AccountClass, ps: PermissionSetEntry) -> _State:
        """A permission set as the role Identity Center provisions: AWS managed policies, customer managed ones
        (found by name and path in the account's class, as the evaluator finds them), the inline policy and the
        boundary."""
        attachments: dict[str, str | None] = {}
        documents: set[tuple[str, str]] = set()
        unmodeled: list[str] = []
        arns = [*ps.managed_policies, *(self._customer_managed(cls, ref) for ref in ps.customer_managed)]
        for arn in arns:
            if arn.startswith("customer-managed:"):
                attachments[arn] = None  # not in the account: Identity Center would fail to provision it
                continue
            label, text = self._policy(cls, arn)
            if text is None:
                unmodeled.append(arn)
            else:
                documents.add((label, text))
            attachments[arn] = text
        if ps.file:
            text = self._text(ps.file)
            attachments["inline:permission-set"] = text
            documents.add(("inline policy", text))
        bound = None
        if ps.boundary is not None and ps.boundary.arn:
            bound = (ps.boundary.arn, self._policy(cls, ps.boundary.arn)[1])
        elif ps.boundary is not None and ps.boundary.customer_managed is not None:
            arn = self._customer_managed(cls, ps.boundary.customer_managed)
            bound = (arn, None if arn.startswith("customer-managed:") else self._policy(cls, arn)[1])
        return _State(f"{PERMISSION_SET}/{ps.name}", tuple(sorted(attachments.items())), tuple(sorted(documents)),
                      tuple(sorted(unmodeled)), bound, None, (("session", ps.session_duration),))

    def _customer_managed(self, cls: AccountClass, ref: CustomerManagedRef) -> str:
        """The ARN a customer managed reference finds in the class, or ``customer-managed:PATHNAME`` when the
        class deploys no policy of that name and path."""
        found = cls.customer_managed(self.org.partition, ref.path, ref.name)
        return found.arn if found is not None else f"customer-managed:{ref.path}{ref.name}"

    def _text(self, path: str) -> str:
        if path not in self.org.files:
            raise EvaluationError(f"{MANIFEST} names {path}, which is not in the output")
        return self.org.files[path]

    def _policy(self, cls: AccountClass, arn: str) -> tuple[str, str | None]:
        """(label, document text) of a managed policy ARN; text None for an AWS managed policy without data."""
        entry = cls.managed_policy(arn)
        if entry is not None:
            return entry.name, self._text(entry.file)
        if ":iam::aws:policy/" in arn:
            return f"{AWS_MANAGED}{arn.split(':policy/', 1)[1]}", _aws_managed_text(arn.split(":policy/", 1)[1])
        raise EvaluationError(f"{MANIFEST}: policy {arn} is attached but not emitted")

    def _class_states(self, cls: AccountClass) -> dict[str, _State]:
        if cls is EMPTY_CLASS:
            return {}
        states: dict[str, _State] = {}

        def state(principal: str, arns: Iterable[str], extra: Iterable[tuple[str, str, str]] = (),
                  boundary: str | None = None, trust: str | None = None, memberships: Iterable[str] = (),
                  tags: Iterable[tuple[str, str]] = ()) -> _State:
            attachments: dict[str, str | None] = {}
            documents: set[tuple[str, str]] = set()
            unmodeled: list[str] = []
            for arn in dict.fromkeys(arns):
                label, text = self._policy(cls, arn)
                if text is None:
                    unmodeled.append(arn)
                else:
                    documents.add((label, text))
                attachments.setdefault(arn, text)
            for name, label, text in extra:
                attachments[name] = text
                documents.add((label, text))
            for group in memberships:
                attachments[f"group/{group}"] = None
            bound = None
            if boundary:
                bound = (boundary, self._policy(cls, boundary)[1])
            return _State(principal, tuple(sorted(attachments.items())), tuple(sorted(documents)),
                          tuple(sorted(unmodeled)), bound, trust, tuple(sorted(tags)))

        groups = {g.name: g for g in cls.groups}
        for role in cls.roles:
            inline = [(f"inline:{p.rsplit('/', 1)[-1].removesuffix('.json')}",
                       f"inline {p.rsplit('/', 1)[-1].removesuffix('.json')}", self._text(p))
                      for p in role.inline_policies]
            states[f"role/{role.name}"] = state(f"role/{role.name}", role.policies, inline, role.boundary,
                                                self._text(role.trust))
        for group in cls.groups:
            states[f"group/{group.name}"] = state(f"group/{group.name}", group.policies)
        for user in cls.users:
            arns = [arn for name in user.groups if name in groups for arn in groups[name].policies]
            states[f"user/{user.name}"] = state(f"user/{user.name}", arns, memberships=user.groups, tags=user.tags)
        return states

    def _denies_by_target(self) -> dict[str, list[tuple[str, str, _Stmt]]]:
        if self._scp_denies is None:
            self._scp_denies = {}
            for scp in self.org.manifest.service_control_policies:
                source = f"SCP {scp.name} ({scp.target})"
                self._scp_denies.setdefault(scp.target, []).extend(
                    ("scp", source, s) for s in _statements(self._text(scp.file)) if s.effect == "Deny")
        return self._scp_denies

    def scp_denies(self, target: str) -> list[tuple[str, str, _Stmt]]:
        return self._denies_by_target().get(target, [])

    def cohort(self, account: Account | None) -> tuple | None:
        """What decides a principal's permissions in the account, but its ID (see guardrails.review.cohorts)."""
        if account is None:
            return None
        levels = () if account.management else tuple(self._deny_levels(account))
        alone = None if account.id.isdigit() else account.name  # the cohort argument needs a 12-digit ID
        return (account.class_key, account.unit, account.management, levels,
                tuple(ps.name for ps in assigned(self.org, account.name)), alone)

    def _deny_levels(self, account: Account) -> list[str]:
        """The targets of the account's path that hold an SCP Deny."""
        targets = self._denies_by_target()
        return [level for level in self.org.path_of(account) if targets.get(level)]

    def invariant(self, account: Account, state: _State) -> bool:
        """Are the principal's permissions in the account the same in every account of its cohort?"""
        identity = self.analyzer.identity(state.documents, state.boundary)
        key = (id(identity), account.management, tuple(self._deny_levels(account)))
        found = self._invariant.get(key)
        if found is None:
            found = self._invariant[key] = all(account_invariant(s) for _, _, s in self._denies(account, identity))
        return found

    def _denies(self, account: Account, identity: _Identity) -> list[tuple[str, str, _Stmt]]:
        denies = list(identity.denies)
        if not account.management:
            for level in self.org.path_of(account):
                denies += self.scp_denies(level)
        return denies

    def effective(self, account: Account, state: _State) -> _Effective:
        identity = self.analyzer.identity(state.documents, state.boundary)
        denies = self._denies(account, identity)
        context, static = self._context(account, state)
        substitutions = {ACCOUNT_ID: account.id, REGION: self.org.home_region}
        return self.analyzer.effective(identity, denies, context, static, substitutions)

    def _context(self, account: Account, state: _State) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
        """What the request context holds whatever the request, for this principal (see _PRINCIPAL_KEYS)."""
        kind, _, name = state.principal.partition("/")
        if kind == PERMISSION_SET:
            # The role Identity Center provisions; its suffix is AWS's choice, so a pattern-free stand-in.
            arn = sso_role_arn(self.org.partition, account.id, name, center_region(self.org))
        else:
            arn = self.org.caller(PrincipalSpec(kind, name), account).principal_arn  # type: ignore[arg-type]
        context = {"aws:principalarn": (arn,), "aws:principalaccount": (account.id,),
                   "aws:principalorgid": (self.org.org_id,), "aws:principalisawsservice": ("false",),
                   "aws:principaltype": ("AssumedRole" if kind in ("role", PERMISSION_SET) else "User",)}
        static = set(_PRINCIPAL_KEYS)
        if kind == "user":
            context["aws:username"] = (name,)
            context.update({f"aws:principaltag/{k.lower()}": (v,) for k, v in state.tags})
            static.add("aws:principaltag/*")  # a user's tags are in the manifest; absent tags are absent
        elif kind == "group":
            static.discard("aws:username")  # any member's name
        return context, frozenset(static)


@cache
def _aws_managed_text(name: str) -> str | None:
    canonical = compare.canonical_name(name)
    if canonical is None or canonical != name:
        return None
    return json.dumps(compare.policy_document(canonical), sort_keys=True)
