"""Principal × account group × representative request: what each principal can do, decided by the evaluator.

The HTML report's matrix (reports/index.html). Accounts are grouped like the lockout proof and the escalation analysis
group them (``guardrails.evaluation.lockout.paths``: baseline class and SCP/RCP path), and every principal of a
group's first account is asked the fixed requests of :data:`PROBES` — one read and one change per service family a
reviewer looks at first, plus two requests guardrails usually deny. Each answer is the evaluator's decision on the
emitted policies (SCPs, RCPs, identity policies, boundaries, resource policies), reduced to the layer that decided
it. Nothing else is claimed: a principal that can do one probe is not said to do the rest of the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.evaluation.decision_memo import DecisionMemo
from guardrails.evaluation.engine import Decision, evaluate
from guardrails.evaluation.errors import EvaluationError
from guardrails.evaluation.lockout.paths import path_groups
from guardrails.evaluation.organization import Organization, parse_principal


@dataclass(frozen=True)
class Probe:
    """One representative request; ``resource`` may use ${partition}, ${account_id} and ${region}."""

    id: str
    title: str
    action: str
    resource: str


_PROBE = "guardrails-matrix-probe"
PROBES: tuple[Probe, ...] = (
    Probe("ec2-read", "list EC2 instances", "ec2:DescribeInstances", "*"),
    Probe("ec2-write", "start an EC2 instance", "ec2:StartInstances",
          f"arn:${{partition}}:ec2:${{region}}:${{account_id}}:instance/i-0{'0' * 16}"),
    Probe("s3-read", "read an S3 object", "s3:GetObject", f"arn:${{partition}}:s3:::{_PROBE}/object"),
    Probe("s3-write", "write an S3 object", "s3:PutObject", f"arn:${{partition}}:s3:::{_PROBE}/object"),
    Probe("secrets-read", "read a secret", "secretsmanager:GetSecretValue",
          f"arn:${{partition}}:secretsmanager:${{region}}:${{account_id}}:secret:{_PROBE}-AbCdEf"),
    Probe("iam-read", "list IAM roles", "iam:ListRoles", "*"),
    Probe("iam-write", "create an IAM role", "iam:CreateRole",
          f"arn:${{partition}}:iam::${{account_id}}:role/{_PROBE}"),
    Probe("trail-stop", "stop a CloudTrail trail", "cloudtrail:StopLogging",
          f"arn:${{partition}}:cloudtrail:${{region}}:${{account_id}}:trail/{_PROBE}"),
    Probe("leave-org", "leave the organization", "organizations:LeaveOrganization", "*"),
)

# What decided a request, shortest first: the reader sees the layer, the cell's title the evaluator's own summary.
ALLOWED, SCP, RCP, BOUNDARY, RESOURCE, IDENTITY_DENY, IDENTITY, UNKNOWN = (
    "allowed", "SCP", "RCP", "boundary", "resource policy", "own Deny", "no grant", "unknown")
OUTCOMES: dict[str, str] = {
    ALLOWED: "the evaluator allows the request",
    SCP: "denied by a service control policy (a Deny, or no Allow at some level of the path)",
    RCP: "denied by a resource control policy",
    BOUNDARY: "denied by the principal's permissions boundary",
    RESOURCE: "denied by a resource-based policy",
    IDENTITY_DENY: "denied by a Deny in the principal's own policies (e.g. MFA required: the requests carry no MFA)",
    IDENTITY: "no identity policy of the principal allows this request on this resource",
    UNKNOWN: "the evaluator could not decide (policies or context it has no document for); see the cell's title",
}


@dataclass(frozen=True)
class Cell:
    outcome: str  # one of OUTCOMES
    detail: str  # the evaluator's one-line summary; "" when it only repeats the outcome (no identity policy allows)


@dataclass(frozen=True)
class Group:
    """Accounts with the same baseline class and SCP/RCP path; evaluated on ``representative``."""

    class_key: str
    accounts: tuple[str, ...]
    representative: str
    path: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]  # (principal, one cell per probe)


@dataclass(frozen=True)
class AccessMatrix:
    probes: tuple[Probe, ...]
    groups: tuple[Group, ...]

    @property
    def evaluations(self) -> int:
        return sum(len(cells) for g in self.groups for _, cells in g.rows)


def _layer(decision: Decision) -> str:
    """The policy layer that decided a deny (from the deciding statements, or the last stage without an Allow)."""
    if decision.outcome == "allow":
        return ALLOWED
    if decision.outcome == "unknown":
        return UNKNOWN
    kinds = [m.policy.kind for m in decision.deciding] if decision.outcome == "explicit-deny" else []
    if not kinds:
        step = next((s for s in reversed(decision.steps) if s.outcome in ("deny", "no-allow")), None)
        stage = step.stage if step else ""
        kinds = [m.policy.kind for m in step.matches] if step and step.matches and step.outcome == "deny" else []
        if not kinds:
            kinds = ["scp" if stage.startswith("SCPs") else "rcp" if stage.startswith("RCPs") else
                     "boundary" if stage == "boundary" else "resource" if stage == "resource policy" else "identity"]
    for kind, layer in (("scp", SCP), ("rcp", RCP), ("boundary", BOUNDARY), ("resource", RESOURCE)):
        if kind in kinds:
            return layer
    return IDENTITY_DENY if decision.outcome == "explicit-deny" else IDENTITY


_NO_IDENTITY_ALLOW = "implicit-deny: identity: no identity policy allows it"


def plain_cell(organization: Organization, principal: str, account: str, probe: Probe) -> Cell:
    """One cell, asked through ``Organization.evaluate`` (what :func:`access_matrix` answers, without its memo)."""
    try:
        rep = organization.account(account)
        decision = organization.evaluate(principal, account, probe.action, organization.expand(probe.resource, rep))
    except EvaluationError as exc:
        return Cell(UNKNOWN, str(exc))
    return _decided(decision)


def _decided(decision: Decision) -> Cell:
    layer = _layer(decision)
    # The commonest answer by far, worded like its legend: 1,000 accounts' page would carry it thousands of times.
    plain = layer == IDENTITY and decision.summary == _NO_IDENTITY_ALLOW
    return Cell(layer, "" if plain else decision.summary)


def access_matrix(organization: Organization, probes: tuple[Probe, ...] = PROBES, *, share: slice | None = None
                  ) -> AccessMatrix:
    """Every principal of every group (roles, users, a member of each group, the root user, the permission sets
    assigned there) asked every probe, in the group's first account. ``share``: only these groups of the
    organization's order (two processes split the work, guardrails.pipeline; :func:`merged` joins the parts)."""
    groups, memo = [], DecisionMemo()
    for path, accounts in path_groups(organization).groups(by_class=True)[share or slice(None)]:
        rep = path.account
        # What plain_cell expands in every cell depends only on the probe and the account: expanded once per group.
        resources = [_expanded(organization, p, rep.name) for p in probes]
        rows = tuple((str(spec), _row(organization, memo, str(spec), rep.name, probes, resources))
                     for spec in organization.principals(rep))
        groups.append(Group(rep.class_key or "", tuple(a.name for a in accounts), rep.name,
                            tuple(organization.path_of(rep)), rows))
    return AccessMatrix(probes, tuple(sorted(groups, key=_order)))


def _expanded(organization: Organization, probe: Probe, account: str) -> str | EvaluationError:
    """The probe's resource in the account (plain_cell's expansion), or the error that makes its cells unknown."""
    try:
        return organization.expand(probe.resource, organization.account(account))
    except EvaluationError as exc:
        return exc


def _row(organization: Organization, memo: DecisionMemo, principal: str, account: str,
         probes: tuple[Probe, ...], resources: list[str | EvaluationError]) -> tuple[Cell, ...]:
    """One principal's cells, its requests prepared and answered as one row (``Organization.prepare_many``,
    ``DecisionMemo.answers``); the principal parsed once (``Organization.evaluate`` parses it per request, after
    plain_cell expanded the resource: that error comes first)."""
    try:
        spec = parse_principal(principal)
    except EvaluationError as exc:
        return tuple(Cell(UNKNOWN, str(resource if isinstance(resource, EvaluationError) else exc))
                     for resource in resources)
    asked = [(probe.action, resource) for probe, resource in zip(probes, resources, strict=True)
             if not isinstance(resource, EvaluationError)]
    # _decided reads the decision's outcome, deciding statements, steps and summary, not Step.policies.
    answers = iter(memo.answers(organization.prepare_many(spec, account, asked),
                                lambda request, policies: _decided(evaluate(request, policies))))
    return tuple(Cell(UNKNOWN, str(resource)) if isinstance(resource, EvaluationError) else _cell(next(answers))
                 for resource in resources)


def _cell(answer: Cell | EvaluationError) -> Cell:
    """:func:`plain_cell`'s cell from the row's answer: an error (of preparing or evaluating) is unknown."""
    return Cell(UNKNOWN, str(answer)) if isinstance(answer, EvaluationError) else answer


def _order(group: Group) -> tuple[str, str]:
    return group.class_key, group.representative


def split(organization: Organization, worker_share: float) -> int:
    """Where to cut the organization's groups so the first part holds about ``worker_share`` of the evaluations
    (a group costs its principals × the probes)."""
    weights = [len(organization.principals(path.account)) for path, _ in path_groups(organization).groups(by_class=True)]
    total, running = sum(weights), 0
    for index, weight in enumerate(weights):
        if running + weight / 2 > total * worker_share:
            return index
        running += weight
    return len(weights)


def merged(parts: list[AccessMatrix]) -> AccessMatrix:
    """The matrix of all groups from the parts :func:`access_matrix` computed with ``share``, in its order."""
    return AccessMatrix(parts[0].probes, tuple(sorted((g for part in parts for g in part.groups), key=_order)))
