"""What a task may cost, judged at submission: memory from the plan, shapes from the image.

Memory is estimated from sizes alone (the stored image's width and height, and each
step's planned output from `processing.pipeline.plan_steps`), in bytes per pixel that
were measured with `ru_maxrss` on a 25 MP image (decoded RGB(A) 8-bit pixels, the
step's float or resampling intermediates, the encoder's buffer). An operation over
`TASK_MEMORY_BUDGET_BYTES` is refused with 422 `over_memory_budget` before it queues.
"""

from collections.abc import Sequence

from pix_erase.errors import AppError
from pix_erase.images.models import Image
from pix_erase.processing import ImageError, PixelStep
from pix_erase.processing.formats import SourceFormat
from pix_erase.processing.pipeline import plan_output, plan_steps

# Decoded pixels (up to 4 channels, 8-bit).
PIXEL = 4
# Working bytes per output pixel of a step, beyond its input (measured, rounded up).
STEP_BYTES = {"sharpen": 48, "rotate": 16, "resize": 8}
DEFAULT_STEP_BYTES = 4
# Inpainting, segmentation and comparison hold a few full-size copies of the image.
WHOLE_IMAGE_OPERATION = 16


def pixels(image: Image) -> int:
    return image.width * image.height


def pipeline_peak(image: Image, steps: Sequence[PixelStep], max_pixels: int) -> int:
    """Peak bytes of running `steps` on `image`; ImageError when a size is over the limits."""
    source_format: SourceFormat = image.format  # type: ignore[assignment]  # stored by probe
    output = plan_output(source_format, steps)
    planned = plan_steps((image.width, image.height), steps, output.format, max_pixels)
    size_in = pixels(image)
    peak = size_in * PIXEL
    for item in planned:
        out = item.planned.size[0] * item.planned.size[1]
        if item.planned.peak is not None:
            out = max(out, item.planned.peak[0] * item.planned.peak[1])
        per_pixel = STEP_BYTES.get(item.step.type, DEFAULT_STEP_BYTES)
        peak = max(peak, size_in * PIXEL + out * per_pixel)
        size_in = item.planned.size[0] * item.planned.size[1]
    return peak + size_in * PIXEL  # the encoder's copy of the result


def require_budget(estimate: int, budget: int, what: str) -> None:
    if estimate > budget:
        raise AppError(
            "over_memory_budget",
            f"{what} would need about {estimate / 2**20:,.0f} MiB of memory; "
            f"the limit per task is {budget / 2**20:,.0f} MiB.",
            422,
            details={"estimated_bytes": estimate, "budget_bytes": budget},
        )


def planning_error(exc: ImageError) -> AppError:
    return AppError(exc.code, exc.message, 422)


def check_inside(points: Sequence[tuple[float, float]], image: Image, what: str) -> None:
    """Coordinates may reach past the picture by at most its own size (a brush stroke that
    runs off the edge), never to absurd values."""
    margin = max(image.width, image.height)
    for x, y in points:
        if not (-margin <= x <= image.width + margin and -margin <= y <= image.height + margin):
            raise AppError(
                "shape_outside_image",
                f"{what} reaches ({x:g}, {y:g}), far outside the "
                f"{image.width}x{image.height} image.",
                422,
            )
