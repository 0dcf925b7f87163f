"""Core settings: where data lives, which backends run, and the limits users meet."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    data_dir: Path = Field(Path("./data"), validation_alias="PIX_ERASE_DATA_DIR")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    max_upload_bytes: int = Field(50 * MB, gt=0, validation_alias="MAX_UPLOAD_BYTES")
    max_image_pixels: int = Field(100_000_000, gt=0, validation_alias="MAX_IMAGE_PIXELS")
    max_image_frames: int = Field(1000, gt=0, validation_alias="MAX_IMAGE_FRAMES")
    session_ttl_seconds: int = Field(14 * 24 * 3600, gt=0, validation_alias="SESSION_TTL_SECONDS")
    login_max_failures: int = Field(5, gt=0, validation_alias="LOGIN_MAX_FAILURES")
    login_max_failures_per_client: int = Field(
        50, gt=0, validation_alias="LOGIN_MAX_FAILURES_PER_CLIENT"
    )
    login_window_seconds: int = Field(15 * 60, gt=0, validation_alias="LOGIN_WINDOW_SECONDS")
    cookie_secure: bool = Field(False, validation_alias="COOKIE_SECURE")
    # Request bodies (docs/security.md): a JSON body is small, an upload is read at a
    # minimum pace, so no client can hold memory, disk or a worker for long.
    max_json_bytes: int = Field(1 * MB, gt=0, validation_alias="MAX_JSON_BYTES")
    body_timeout_seconds: float = Field(30.0, gt=0, validation_alias="REQUEST_BODY_TIMEOUT_SECONDS")
    body_min_bytes_per_second: int = Field(
        16 * 1024, ge=0, validation_alias="REQUEST_BODY_MIN_BYTES_PER_SECOND"
    )
    # The database pool: a request that waits longer than the timeout answers 503.
    db_pool_size: int = Field(10, ge=1, validation_alias="DB_POOL_SIZE")
    db_max_overflow: int = Field(10, ge=0, validation_alias="DB_MAX_OVERFLOW")
    db_pool_timeout_seconds: float = Field(10.0, gt=0, validation_alias="DB_POOL_TIMEOUT_SECONDS")
    task_claim_timeout_seconds: float = Field(
        60.0, gt=0, validation_alias="TASK_CLAIM_TIMEOUT_SECONDS"
    )
    shutdown_grace_seconds: float = Field(25.0, ge=0, validation_alias="SHUTDOWN_GRACE_SECONDS")
    bg_model_path: str | None = Field(None, validation_alias="PIX_ERASE_BG_MODEL_PATH")
    processes: int | None = Field(None, ge=1, validation_alias="PIX_ERASE_PROCESSES")
    # Signs render URLs; unset: a random secret kept in the data directory (one host).
    render_url_secret: SecretStr | None = Field(None, validation_alias="RENDER_URL_SECRET")

    @field_validator("bg_model_path", "render_url_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return value or None  # compose passes the variable empty when no model is mounted

    @property
    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'pix_erase.db').resolve()}"
