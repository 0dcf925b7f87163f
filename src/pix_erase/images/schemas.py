"""Request and response bodies of the image routes.

The operations' own parameter models live with their declarations in `operations/`.
"""

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from pix_erase.images.operations import Operation
from pix_erase.processing import Step

MAX_STEPS = 8


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    format: str
    content_type: str
    width: int
    height: int
    bytes: int
    created_at: datetime
    parent_id: uuid.UUID | None
    operation: str | None
    filename: str | None = Field(
        None,
        validation_alias=AliasChoices("original_filename", "filename"),
        description="The uploaded file's name; for a result, one derived from its source's.",
    )


class OperationRequest(BaseModel):
    """Either one `operation`, or a pipeline of `steps` (1..8) that yields one result image."""

    model_config = ConfigDict(extra="forbid")

    operation: Operation | None = None
    steps: list[Step] | None = Field(None, min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.operation is None) == (self.steps is None):
            raise ValueError("give exactly one of `operation` or `steps`")
        return self


class TaskAccepted(BaseModel):
    task_id: uuid.UUID
    status: Literal["queued"] = "queued"
