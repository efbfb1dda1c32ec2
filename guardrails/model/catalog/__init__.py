"""The built-in guardrail catalog: data files interpreted by small pure functions.

Each ``guardrails/data/catalog/<id>.yaml`` holds one guardrail:

- ``id``, ``title``, ``kind`` (``scp``: a service control policy; ``rcp``: a resource control policy, which
  synthesize renders with ``Principal: "*"``), ``rationale``, ``source`` (AWS sample, Control Tower control,
  CIS item) and ``source_url``;
- ``exempt_privileged``: synthesize adds an ``ArnNotLike aws:PrincipalArn`` exemption for the break-glass role
  and the deployment principals to every statement (a template may therefore not use that operator and key);
- ``parameters``: ``name → {description, type, default, default_from, single, optional, arn_of_name}``.
  ``type`` is one of :data:`TYPES` and says how the model stage checks a blueprint's values. ``default_from``
  names a value of the synthesize context (:data:`CONTEXT_KEYS`); when the context has no value for it (the
  key is missing or empty), ``default`` applies. ``single``: at most one value. ``optional`` (implied by an
  empty default and by ``type: boolean``): the parameter may have no value at all;
- ``exception_tag``: the parameter holding the tag key of a tag-based exception (see below);
- ``statements``: statement templates (``sid, effect, actions | not_actions, resources | not_resources,
  conditions``), every one a Deny.

Expansion (:func:`expand`): a list item containing ``$name`` becomes one string per value; a mapping key or a
scalar string containing ``$name`` takes the parameter's single value. Inside ``conditions`` a key whose
value list expands to nothing is dropped, then an operator left empty, then the whole Condition: this is how
an optional parameter switches a condition off. A ``boolean`` parameter expands to ``["true"]`` when set and
to nothing otherwise, so that ``Null: {aws:AssumedRoot: [$flag]}`` exists only when ``flag`` is true. Because
dropping a condition widens a Deny, optional parameters may appear only in condition values (checked at load).

Tag-based exceptions: a condition on ``aws:PrincipalTag/…``, ``aws:ResourceTag/…`` or ``iam:ResourceTag/…`` is
an exception anyone able to set that tag could grant themselves. An entry using one must declare
``exception_tag`` (the tag key must be ``…/$<exception_tag>``) and carry a Deny on setting or removing that
tag: ``iam:TagUser, iam:UntagUser, iam:TagRole, iam:UntagRole`` (and ``sts:TagSession`` for principal tags,
which session tags also set) under a ``ForAnyValue:`` condition on ``aws:TagKeys`` naming the tag key.
:func:`load_catalog` rejects an entry breaking any of these rules (a packaging bug, :class:`CatalogError`).
"""

from __future__ import annotations

from guardrails.model.catalog.docs import (
    DOC_CONTEXT,
    catalog_markdown,
    default_values,
    minified_size,
    policy_json,
    statement_json,
)
from guardrails.model.catalog.entries import (
    CONTEXT_KEYS,
    KINDS,
    PARTITIONS,
    SESSION_TAG_ACTION,
    TAG_PROTECTION_ACTIONS,
    TYPES,
    CatalogError,
    Guardrail,
    Parameter,
    ParameterError,
    load_catalog,
    parse_entry,
)
from guardrails.model.catalog.expansion import expand
from guardrails.model.catalog.parameters import resolve_parameters, value_problems

__all__ = [
    "CONTEXT_KEYS", "DOC_CONTEXT", "KINDS", "PARTITIONS", "SESSION_TAG_ACTION", "TAG_PROTECTION_ACTIONS", "TYPES",
    "CatalogError", "Guardrail", "Parameter", "ParameterError", "catalog_markdown", "default_values", "expand",
    "load_catalog", "minified_size", "parse_entry", "policy_json", "resolve_parameters", "statement_json",
    "value_problems",
]
