"""Every table, imported in one place so Alembic and the ORM see the whole schema."""

from pix_erase.images.models import Image
from pix_erase.platform.db import Base
from pix_erase.tasks.models import Task
from pix_erase.users.models import LoginFailure, User, UserSession

metadata = Base.metadata

__all__ = ["Image", "LoginFailure", "Task", "User", "UserSession", "metadata"]
