"""Blueprint format v1: the constrained string types and the strict base every model derives from."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
IamName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w+=,.@-]+$")]
IamPath = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^/([\x21-\x7e]*/)?$")]
StringOrList = Union[str, list[str]]


class Strict(BaseModel):
    """Base: unknown keys are errors (with a "did you mean" hint added by the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Placement(Strict):
    """Where an identity is deployed. Several keys add up; `all` means every member account."""

    all: bool = Field(False, description="Every member account (not the management account unless listed).")
    units: list[str] = Field(default_factory=list, description="OU paths such as `Workloads/Prod`; includes nested OUs.")
    accounts: list[str] = Field(default_factory=list, description="Account names (the management account too).")
    exclude_accounts: list[str] = Field(default_factory=list)
