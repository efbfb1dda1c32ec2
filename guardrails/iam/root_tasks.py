"""The AWS managed task policies of centralized root sessions (``sts:AssumeRoot``), as reference data.

``guardrails/data/root_task_policies/`` holds the five documents and ``PROVENANCE.yaml`` (their sources and the
session facts: the task policies AssumeRoot accepts, how long a session lasts, its request context). The model
checks that a test's ``root-session/NAME`` names one of them; the evaluator applies the named one
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from guardrails.data.fast_yaml import safe_load

DATA_DIR = "root_task_policies"  # under guardrails/data/


@cache
def provenance() -> dict[str, Any]:
    """``PROVENANCE.yaml`` of the task policies: the documents' sources and the session facts."""
    text = resources.files("guardrails.data").joinpath(DATA_DIR, "PROVENANCE.yaml").read_text("utf-8")
    return safe_load(text)


def task_names() -> tuple[str, ...]:
    """The task policies AssumeRoot accepts (the whole list, per the API reference)."""
    return tuple(str(name) for name in provenance()["session"]["task_policies"])


def stored_document(file: str) -> dict[str, Any]:
    """A stored task policy document by its file name (PROVENANCE.yaml ``policies[].file``)."""
    return json.loads(resources.files("guardrails.data").joinpath(DATA_DIR, file).read_text("utf-8"))
