"""Request and response bodies of the auth and user routes."""

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _email(value: str) -> str:
    # NFKC first, so a full-width look-alike is checked (and stored) as what it reads as.
    value = unicodedata.normalize("NFKC", value.strip())
    try:
        # No DNS lookups, and `.test` is allowed: a self-hosted service is often tried
        # out on such addresses. Other special-use names (.local, .invalid, .arpa...) fail.
        found = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    return found.normalized


Email = Annotated[
    str,
    Field(
        max_length=320,
        json_schema_extra={"format": "email"},
        description="An email address; special-use domains other than `.test` are refused.",
    ),
    AfterValidator(_email),
]


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=8, max_length=256, description="At least 8 characters.")
    name: str | None = Field(None, max_length=200)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str | None
    is_admin: bool
    is_active: bool
    created_at: datetime


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_at: datetime
    user: UserOut
