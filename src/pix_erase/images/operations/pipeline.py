"""The pipeline steps (rotate, resize, ...): one task kind runs a list of them.

Every step of `pix_erase.processing.steps` is an operation here, alone or in `steps`.
"""

from typing import Any

from pydantic import TypeAdapter

from pix_erase.container import Services
from pix_erase.images.operations.registry import OperationSpec
from pix_erase.images.operations.results import read_image, store_result
from pix_erase.platform.pool import report_progress
from pix_erase.processing import STEP_TYPES, Step, run_steps
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task

KIND = "pipeline"
_steps = TypeAdapter(list[Step])


def pipeline_params(steps: list[Step]) -> dict[str, Any]:
    """A pipeline task's stored parameters."""
    return {"steps": [step.model_dump(mode="json") for step in steps]}


async def run_pipeline(
    services: Services, task: Task, progress: ProgressCallback
) -> dict[str, Any]:
    steps = _steps.validate_python(task.params["steps"])
    source, data = await read_image(services, task, task.image_id)
    encoded = await services.pool.run_with_progress(
        progress,
        run_steps,
        data,
        steps,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    operation = "+".join(step.type for step in steps)
    image_id = await store_result(services, task, source, encoded, operation, "result")
    return {"image_id": str(image_id)}


SPECS = tuple(
    OperationSpec(params=step, kind=KIND, handler=run_pipeline, step=True) for step in STEP_TYPES
)
