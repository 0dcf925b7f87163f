"""The operation registry: every declared operation works end to end, and the docs agree.

An operation is declared once (`pix_erase.images.operations`); these tests take every
declaration as it is, so a new one is covered without being named here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata

from pix_erase.images.operations import OPERATIONS, OperationSpec, operations_table
from tests.conftest import UserClient, decode, encode

README = Path(__file__).parent.parent / "README.md"
START, END = "<!-- operations table: start -->", "<!-- operations table: end -->"


def test_the_readme_shows_the_operations_table_the_registry_derives() -> None:
    text = README.read_text()
    table = text[text.index(START) + len(START) : text.index(END)].strip()
    assert table == operations_table().strip(), (
        "README's table of operations is stale: paste in the output of "
        "`uv run python -m pix_erase.images.operations`"
    )


def test_every_operation_is_in_the_openapi_request_schema_and_as_a_step_if_it_is_one() -> None:
    from pix_erase.images.schemas import OperationRequest

    schema = OperationRequest.model_json_schema()
    mapping = schema["properties"]["operation"]["anyOf"][0]["discriminator"]["mapping"]
    step_mapping = schema["properties"]["steps"]["anyOf"][0]["items"]["discriminator"]["mapping"]
    for spec in OPERATIONS:
        assert (spec.name in mapping) == spec.submit
        assert (spec.name in step_mapping) == spec.step


def _photo_with_mark(name: str) -> bytes:
    """A real photo (a scikit-image sample, 320x240) with a white text watermark."""
    pixels = {"astronaut": skdata.astronaut, "chelsea": skdata.chelsea}[name]()  # type: ignore[no-untyped-call]
    photo = Image.fromarray(pixels).resize((320, 240))
    draw = ImageDraw.Draw(photo)
    draw.text((40, 150), "SAMPLE", fill=(255, 255, 255), font=ImageFont.load_default(size=48))
    return encode(photo, "PNG")


def _example(spec: OperationSpec[Any]) -> dict[str, Any]:
    extra = spec.params.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    assert examples, f"{spec.name}: declare an example in its model's json_schema_extra"
    example: dict[str, Any] = dict(examples[0])
    return example


def _with_real_ids(example: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """Put the user's own images where the documented example names image ids."""
    filled: dict[str, Any] = {}
    for name, value in example.items():
        if name.endswith("_image_id"):
            filled[name] = ids[0]
        elif name == "image_ids":
            filled[name] = ids[: len(value)]
        else:
            filled[name] = value
    return filled


@pytest.mark.parametrize("spec", OPERATIONS, ids=lambda spec: spec.name)
async def test_every_declared_operation_round_trips_through_api_queue_and_worker(
    user: UserClient, spec: OperationSpec[Any]
) -> None:
    ids = [
        (await user.upload_ok(_photo_with_mark(name)))["id"] for name in ("astronaut", "chelsea")
    ]
    params = _with_real_ids(_example(spec), ids)
    if spec.submit:
        bodies = [{"operation": params}] + ([{"steps": [params, params]}] if spec.step else [])
        tasks = [await user.run(ids[0], body) for body in bodies]
    else:
        response = await user.post("/api/v1/watermarks/remove-batch", json=params)
        assert response.status_code == 202, response.text
        tasks = [await user.wait(response.json()["task_id"])]
    for task in tasks:
        assert task["status"] == "succeeded", task
        result_ids = re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", str(task["result"]))
        assert result_ids, task
        for result_id in set(result_ids) - set(ids):
            result = decode(await user.content(result_id))
            assert np.asarray(result).size > 0
            meta = (await user.get(f"/api/v1/images/{result_id}")).json()
            assert meta["parent_id"] in ids
            assert (meta["width"], meta["height"]) == result.size
