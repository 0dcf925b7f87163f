"""How a task looks to its owner."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from pix_erase.tasks.models import Task, TaskStatus

WaitSeconds = Annotated[
    float,
    Query(
        ge=0,
        le=30,
        allow_inf_nan=False,
        description="Answer as soon as the task ends, or after this many seconds (0..30).",
    ),
]


class TaskError(BaseModel):
    code: str
    message: str


class TaskOut(BaseModel):
    id: uuid.UUID
    status: TaskStatus
    progress: float
    error: TaskError | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, task: Task) -> "TaskOut":
        error = None
        if task.error_code:
            error = TaskError(code=task.error_code, message=task.error_message or "")
        return cls(
            id=task.id,
            status=task.status,
            progress=task.progress,
            error=error,
            result=task.result,
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
        )
