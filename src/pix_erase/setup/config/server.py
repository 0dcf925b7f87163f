"""Where the API and the worker's metrics listen."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", validation_alias="UVICORN_HOST")
    port: int = Field(8080, ge=1, le=65535, validation_alias="UVICORN_PORT")
    worker_metrics_port: int = Field(8081, ge=1, le=65535, validation_alias="WORKER_METRICS_PORT")
