"""HTTP routes of tasks: a user follows their own, or waits for one to end."""

import uuid

from fastapi import APIRouter

from pix_erase.dependencies import ServicesDep, UoW
from pix_erase.errors import ERROR_RESPONSES, ErrorBody, NotFound
from pix_erase.tasks.schemas import TaskOut, WaitSeconds
from pix_erase.tasks.service import TaskService
from pix_erase.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)


@router.get("/{task_id}")
async def get_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UoW, services: ServicesDep, wait: WaitSeconds = 0
) -> TaskOut:
    """The task; with `wait`, answered as soon as it ends (or after `wait` seconds)."""
    task = await TaskService(uow, services).wait(task_id, user.id, wait)
    if task is None:
        raise NotFound("Task")
    return TaskOut.of(task)


@router.post(
    "/{task_id}/cancel",
    responses={409: {"model": ErrorBody, "description": "The task has already ended"}},
)
async def cancel_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UoW, services: ServicesDep
) -> TaskOut:
    """Cancel a queued or running task: it ends `failed` with error code `cancelled`.

    A queued task never runs; a running one is stopped (its image process is killed)
    and stores no result. 409 `task_finished` when it had already ended.
    """
    task = await TaskService(uow, services).cancel(user.id, task_id)
    return TaskOut.of(task)
