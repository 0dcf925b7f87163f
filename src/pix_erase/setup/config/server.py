"""How the HTTP server listens: bind address, connection limits and timeouts, proxies.

These go to uvicorn (`pix_erase.platform.http_server`); docs/security.md explains each.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", validation_alias="UVICORN_HOST")
    port: int = Field(8080, ge=1, le=65535, validation_alias="UVICORN_PORT")
    worker_metrics_port: int = Field(8081, ge=1, le=65535, validation_alias="WORKER_METRICS_PORT")
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, `*` for any). Empty: no one's, so a client cannot choose the
    # address the login throttle counts it under.
    forwarded_allow_ips: str = Field("", validation_alias="FORWARDED_ALLOW_IPS")
    # Past this many open connections (or running requests) a new request gets a 503.
    limit_concurrency: int = Field(256, ge=1, validation_alias="LIMIT_CONCURRENCY")
    keep_alive_timeout_seconds: int = Field(5, ge=1, validation_alias="KEEP_ALIVE_TIMEOUT_SECONDS")
    # A request line and headers must arrive whole within this time and size.
    header_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias="REQUEST_HEADER_TIMEOUT_SECONDS"
    )
    max_header_bytes: int = Field(32 * 1024, ge=1024, validation_alias="REQUEST_MAX_HEADER_BYTES")

    @property
    def trusted_proxies(self) -> list[str]:
        return [item.strip() for item in self.forwarded_allow_ips.split(",") if item.strip()]
