"""Bounds on background work: how long, how much memory, how many, how often retried,
and when stored objects nobody references are swept."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GB = 1024 * 1024 * 1024


class TaskSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # The slowest honest job (erase `best` of a large mask on 100 MP) takes a few minutes.
    time_limit_seconds: float = Field(600.0, gt=0, validation_alias="TASK_TIME_LIMIT_SECONDS")
    max_attempts: int = Field(3, ge=1, validation_alias="TASK_MAX_ATTEMPTS")
    max_active_per_user: int = Field(20, ge=1, validation_alias="MAX_ACTIVE_TASKS_PER_USER")
    memory_budget_bytes: int = Field(4 * GB, gt=0, validation_alias="TASK_MEMORY_BUDGET_BYTES")
    # Upload checks, EXIF and renders run in a pool of their own (`serve` and `api`).
    quick_processes: int = Field(1, ge=1, validation_alias="PIX_ERASE_QUICK_PROCESSES")
    sweep_grace_seconds: float = Field(3600.0, ge=0, validation_alias="SWEEP_GRACE_SECONDS")
    sweep_interval_seconds: float = Field(3600.0, gt=0, validation_alias="SWEEP_INTERVAL_SECONDS")
