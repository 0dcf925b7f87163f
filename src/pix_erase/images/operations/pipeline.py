"""The pipeline steps (rotate, resize, ...): one task kind runs a list of them.

Every step of `pix_erase.processing.steps` is an operation here, alone or in `steps`.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.images.operations.budget import pipeline_peak, planning_error
from pix_erase.images.operations.registry import CheckContext, OperationSpec
from pix_erase.images.operations.results import load_image, store_result
from pix_erase.platform.pool import report_progress
from pix_erase.processing import STEP_TYPES, ImageError, PixelStep, Step, run_steps
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task

KIND = "pipeline"
_steps = TypeAdapter(list[Step])


async def check_pipeline(context: CheckContext, steps: Sequence[PixelStep]) -> None:
    """Refuse a pipeline whose planned sizes break the limits or whose peak memory, from
    the stored image's size, exceeds the budget (e.g. 1x1 pixel grown to 100 MP by eight
    resizes, then sharpened)."""
    max_pixels = context.services.settings.app.max_image_pixels
    try:
        peak = pipeline_peak(context.image, steps, max_pixels)
    except ImageError as exc:
        raise planning_error(exc) from exc
    context.require_memory(peak, "This pipeline")


async def check_step(context: CheckContext, step: PixelStep) -> None:
    await check_pipeline(context, [step])


def pipeline_params(steps: list[Step]) -> dict[str, Any]:
    """A pipeline task's stored parameters."""
    return {"steps": [step.model_dump(mode="json") for step in steps]}


async def run_pipeline(
    services: Services, task: Task, progress: ProgressCallback
) -> dict[str, Any]:
    steps = _steps.validate_python(task.params["steps"])
    source = await load_image(services, task, task.image_id)
    storage = services.storage
    # From local storage the pool process reads the file itself (no copy through a pipe).
    data = storage.local_path(source.storage_key) or await storage.get_bytes(source.storage_key)
    try:
        encoded = await services.pool.run_with_progress(
            progress,
            run_steps,
            data,
            steps,
            max_pixels=services.settings.app.max_image_pixels,
            progress=report_progress,
        )
    except FileNotFoundError as exc:  # deleted meanwhile; not a storage outage to wait out
        raise AppError("source_deleted", "The source was deleted while the task ran.") from exc
    operation = "+".join(step.type for step in steps)
    image_id = await store_result(services, task, source, encoded, operation, "result")
    return {"image_id": str(image_id)}


SPECS = tuple(
    OperationSpec(params=step, kind=KIND, handler=run_pipeline, check=check_step, step=True)
    for step in STEP_TYPES
)
