"""Blueprint format v1: the constrained string types and the strict base every model derives from."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, WithJsonSchema, WrapValidator
from pydantic_core import PydanticCustomError

AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
IamName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w+=,.@-]+$")]
IamPath = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^/([\x21-\x7e]*/)?$")]
StringOrList = Union[str, list[str]]


def bounded(pattern: str, unbounded: str, min_length: int, max_length: int) -> Any:
    """``Annotated[str, StringConstraints(pattern=pattern)]`` for a pattern ``^X{m,n}$`` whose ``X`` is one
    character class: checked as ``unbounded`` (``^X+$``) and a length of ``min_length`` to ``max_length``, which
    accept the same strings. pydantic-core builds a bounded repeat of a Unicode class such as ``\\w`` into a large
    automaton, about 50 ms per field when the schema is built (a pre-commit ``check`` notices); ``+`` costs
    almost nothing. The error (``string_pattern_mismatch`` naming ``pattern``) and the JSON Schema stay the ones
    of ``pattern``."""

    def mismatch() -> PydanticCustomError:
        return PydanticCustomError("string_pattern_mismatch", "String should match pattern '{pattern}'",
                                   {"pattern": pattern})

    def check(value: Any, handler: Any) -> str:
        try:
            text = handler(value)
        except ValidationError as exc:
            if any(e["type"] == "string_pattern_mismatch" for e in exc.errors()):
                raise mismatch() from None
            raise
        if not min_length <= len(text) <= max_length:
            raise mismatch()
        return text

    return Annotated[str, StringConstraints(pattern=unbounded), WrapValidator(check),
                     WithJsonSchema({"pattern": pattern, "type": "string"})]


class Strict(BaseModel):
    """Base: unknown keys are errors (with a "did you mean" hint added by the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Placement(Strict):
    """Where an identity is deployed. Several keys add up; `all` means every member account."""

    all: bool = Field(False, description="Every member account (not the management account unless listed).")
    units: list[str] = Field(default_factory=list, description="OU paths such as `Workloads/Prod`; includes nested OUs.")
    accounts: list[str] = Field(default_factory=list, description="Account names (the management account too).")
    exclude_accounts: list[str] = Field(default_factory=list)
