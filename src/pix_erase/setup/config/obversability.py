"""Observability settings: the app name and where traces go (names: docs/observability.md)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    app_name: str = Field("PixErase", validation_alias="APP_NAME")
    tempo_host: str = Field("localhost", validation_alias="TEMPO_HOST")
    tempo_grpc_port: int = Field(4317, ge=1, le=65535, validation_alias="TEMPO_GRPC_PORT")
    traces_enabled: bool = Field(False, validation_alias="OTEL_TRACES_ENABLED")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    @property
    def tempo_uri(self) -> str:
        """The OTLP/gRPC endpoint built from TEMPO_HOST and TEMPO_GRPC_PORT."""
        return f"http://{self.tempo_host}:{self.tempo_grpc_port}"
