"""The step models: what the API accepts as a body, and the errors that cross processes."""

from __future__ import annotations

import math
import pickle
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from pix_erase.processing import Convert, Grayscale, ImageError, Resize, Rotate, Step

STEPS: TypeAdapter[list[Step]] = TypeAdapter(list[Step])


def test_steps_are_parsed_by_their_type() -> None:
    steps = STEPS.validate_python(
        [
            {"type": "rotate", "angle": 12.5},
            {"type": "grayscale"},
            {"type": "resize", "width": 100},
            {"type": "convert", "format": "webp"},
        ]
    )

    assert [type(step) for step in steps] == [Rotate, Grayscale, Resize, Convert]
    rotate, _, resize, convert = steps
    assert isinstance(rotate, Rotate)
    assert (rotate.expand, rotate.fill) == (True, None)
    assert isinstance(resize, Resize)
    assert (resize.fit, resize.sharpen) == ("contain", 0.0)
    assert isinstance(convert, Convert)
    assert (convert.quality, convert.strip_metadata) == (85, False)


def test_steps_parse_from_json() -> None:
    steps = STEPS.validate_json('[{"type": "resize", "scale": 0.5, "fit": "cover"}]')
    assert steps == [Resize(type="resize", scale=0.5, fit="cover")]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "rotate", "angle": math.nan},
        {"type": "rotate", "angle": math.inf},
        {"type": "rotate"},
        {"type": "rotate", "angle": 10, "fill": "red"},
        {"type": "rotate", "angle": 10, "fill": "#12345"},
        {"type": "rotate", "angle": 10, "colour": "#ffffff"},
        {"type": "resize"},
        {"type": "resize", "scale": 0.5, "width": 10},
        {"type": "resize", "scale": 0},
        {"type": "resize", "scale": 4.01},
        {"type": "resize", "width": 0},
        {"type": "resize", "height": 20_001},
        {"type": "resize", "width": 10, "fit": "stretch"},
        {"type": "resize", "width": 10, "sharpen": 6},
        {"type": "convert", "format": "gif"},
        {"type": "convert", "format": "png", "quality": 0},
        {"type": "convert", "format": "png", "quality": 101},
        {"type": "blur", "radius": 3},
        {},
    ],
)
def test_bad_parameters_are_validation_errors(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        STEPS.validate_python([body])


def test_rotate_fill_accepts_rgb_and_rgba() -> None:
    assert Rotate(type="rotate", angle=1, fill="#A0b0C0").fill == "#A0b0C0"
    assert Rotate(type="rotate", angle=1, fill="#a0b0c080").fill == "#a0b0c080"


def test_steps_are_frozen_and_hashable() -> None:
    step = Resize(type="resize", width=10, height=20, fit="fill")
    with pytest.raises(ValidationError):
        step.width = 30  # type: ignore[misc]
    assert hash(step) == hash(Resize(type="resize", width=10, height=20, fit="fill"))


def test_every_field_is_documented_for_openapi() -> None:
    for model in (Rotate, Grayscale, Resize, Convert):
        schema = model.model_json_schema()
        for name, field in schema["properties"].items():
            assert field.get("description"), f"{model.__name__}.{name}"


def test_steps_and_errors_survive_pickling() -> None:
    steps = [
        Rotate(type="rotate", angle=30, fill="#ff000080"),
        Convert(type="convert", format="avif"),
    ]
    assert pickle.loads(pickle.dumps(steps)) == steps  # noqa: S301 (our own bytes)

    error = pickle.loads(pickle.dumps(ImageError("corrupt_image", "Broken.")))  # noqa: S301
    assert isinstance(error, ImageError)
    assert (error.code, error.message, error.args) == (
        "corrupt_image",
        "Broken.",
        ("corrupt_image", "Broken."),
    )
