"""What declaring an operation means: its parameters, task kind, handler and checks.

Each module of `pix_erase.images.operations` declares its operations as `SPECS`; the
request schemas, the worker's handler table, the submission checks and the table of
operations in the README all derive from those declarations (see the package).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel

from pix_erase.container import Services
from pix_erase.errors import AppError, NotFound
from pix_erase.images.models import Image
from pix_erase.images.operations.budget import require_budget
from pix_erase.images.repository import ImageRepository
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task

P = TypeVar("P", bound=BaseModel)

Handler = Callable[[Services, Task, ProgressCallback], Awaitable[dict[str, Any]]]
"""Worker side: runs a task of this kind and returns the task's `result`."""


@dataclass(frozen=True)
class CheckContext:
    """What a submission check may look at: the source image, its owner, the settings."""

    services: Services
    images: ImageRepository
    owner_id: uuid.UUID
    image: Image

    def require_memory(self, estimate: int, what: str) -> None:
        """422 `over_memory_budget` when `estimate` bytes exceed TASK_MEMORY_BUDGET_BYTES."""
        require_budget(estimate, self.services.settings.tasks.memory_budget_bytes, what)

    async def own(self, image_id: uuid.UUID) -> Image:
        """Another image of the same owner; 404 (as for a missing one) otherwise."""
        image = await self.images.get_owned(image_id, self.owner_id)
        if image is None:
            raise NotFound("Image")
        return image

    async def own_mask(self, mask_id: uuid.UUID) -> Image:
        """Another image of the owner that covers the source pixel for pixel."""
        mask = await self.own(mask_id)
        source = self.image
        if (mask.width, mask.height) != (source.width, source.height):
            raise AppError(
                "mask_size_mismatch",
                f"The mask is {mask.width}x{mask.height}; "
                f"the image is {source.width}x{source.height}.",
                422,
            )
        return mask


@dataclass(frozen=True)
class OperationSpec(Generic[P]):
    """One operation, declared once.

    `params` is the request model (its `type` Literal names the operation); `kind` the
    task kind the API queues and the worker dispatches on; `handler` runs it in the
    worker; `check` refuses at submission what the task could only fail on later;
    `step`: it may be a step of a pipeline (then all steps share the pipeline's handler);
    `submit`: it is asked for through `POST /images/{id}/operations` (batch work has a
    route of its own).
    """

    params: type[P]
    kind: str
    handler: Handler
    check: Callable[[CheckContext, P], Awaitable[None]] | None = None
    step: bool = False
    submit: bool = True

    @property
    def name(self) -> str:
        field = self.params.model_fields.get("type")
        if field is None:
            return self.kind
        (value,) = get_args(field.annotation)
        return str(value)

    @property
    def summary(self) -> str:
        """The first paragraph of the parameter model's docstring, on one line."""
        doc = (self.params.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())
