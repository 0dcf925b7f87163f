"""Object storage: S3-compatible when S3_ENDPOINT_URL is set, else a local directory."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    endpoint_url: str | None = Field(None, validation_alias="S3_ENDPOINT_URL")
    bucket: str = Field("pix-erase-images", validation_alias="S3_BUCKET")
    access_key_id: str | None = Field(None, validation_alias="S3_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(None, validation_alias="S3_SECRET_ACCESS_KEY")
    region: str = Field("us-east-1", validation_alias="S3_REGION")
