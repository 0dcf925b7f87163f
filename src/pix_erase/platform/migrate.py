"""Apply the Alembic migrations programmatically (no alembic.ini needed at run time)."""

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "pix_erase:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_head(database_url: str) -> None:
    """Bring the database to the newest schema. Synchronous: call it outside an event loop."""
    command.upgrade(alembic_config(database_url), "head")
