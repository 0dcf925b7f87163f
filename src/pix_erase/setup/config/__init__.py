"""One Settings object, composed of a group per concern and built once by the entry point.

Nothing reads the environment at import time: `load_settings()` is called by the CLI (or a
test) and the result is passed into `create_app()` and the worker.
"""

from pydantic import BaseModel, ConfigDict, Field

from pix_erase.setup.config.app import AppSettings
from pix_erase.setup.config.obversability import ObservabilitySettings
from pix_erase.setup.config.server import ServerSettings
from pix_erase.setup.config.storage import StorageSettings
from pix_erase.setup.config.tasks import TaskSettings


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    app: AppSettings = Field(default_factory=AppSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)


def load_settings() -> Settings:
    """Read every group from the environment."""
    return Settings()


__all__ = [
    "AppSettings",
    "ObservabilitySettings",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "TaskSettings",
    "load_settings",
]
