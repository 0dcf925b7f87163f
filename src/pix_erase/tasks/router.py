"""HTTP routes of tasks: a user polls their own."""

import uuid

from fastapi import APIRouter

from pix_erase.dependencies import UoW
from pix_erase.errors import ERROR_RESPONSES, NotFound
from pix_erase.tasks.repository import TaskRepository
from pix_erase.tasks.schemas import TaskOut
from pix_erase.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)


@router.get("/{task_id}")
async def get_task(task_id: uuid.UUID, user: CurrentUser, uow: UoW) -> TaskOut:
    task = await TaskRepository(uow.session).get_owned(task_id, user.id)
    if task is None:
        raise NotFound("Task")
    return TaskOut.of(task)
