"""Parameter types that several operations share: rectangles, brush strokes, colours."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_SHAPES = 1000
COLOUR = r"^#[0-9a-fA-F]{6}$"
# Image ids in the documented examples.
EXAMPLE_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
EXAMPLE_ID2 = "9b2e4a1c-0d7f-4e55-8a61-5c3b2f1e7d90"

Rect = Annotated[
    tuple[
        Annotated[int, Field(ge=0)],
        Annotated[int, Field(ge=0)],
        Annotated[int, Field(ge=1)],
        Annotated[int, Field(ge=1)],
    ],
    Field(description="[x, y, width, height] in pixels of the image as displayed."),
]
Point = tuple[
    Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]
]


class Stroke(BaseModel):
    """A brush stroke: a polyline painted with round ends, `radius` pixels wide on each side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: list[Point] = Field(min_length=1, max_length=10_000)
    radius: float = Field(gt=0, le=1000, allow_inf_nan=False)
