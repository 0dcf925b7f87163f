"""What the API does once at startup for the cost of every request afterwards."""

import gc
from pathlib import Path

from pix_erase.setup.config import AppSettings, Settings
from tests.conftest import running_app


async def test_startup_objects_leave_the_collectors_generations(tmp_path: Path) -> None:
    gc.unfreeze()  # whatever an app started earlier in this process froze
    assert gc.get_freeze_count() == 0
    settings = Settings(app=AppSettings(data_dir=tmp_path, database_url=None, processes=1))
    async with running_app(settings, in_process_worker=True):
        # The libraries, the app and its services: a full collection no longer walks them.
        assert gc.get_freeze_count() > 100_000
        assert len(gc.get_objects()) < gc.get_freeze_count() / 10
