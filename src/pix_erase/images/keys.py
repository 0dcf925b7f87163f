"""Where an image's bytes live in storage: the one naming rule for uploads, results and
the cached renders of an image."""

import uuid

PREFIX = "images/"
RENDERS = "renders/"


def image_key(owner_id: uuid.UUID, image_id: uuid.UUID) -> str:
    return f"{PREFIX}{owner_id}/{image_id}"


def render_prefix(owner_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where the renders of one image are cached (deleted with the image)."""
    return f"{RENDERS}{owner_id}/{image_id}/"


def image_id_of_render(key: str) -> str:
    """The image a cached render belongs to: `renders/<owner>/<image>/<digest>.<ext>`."""
    return key.removeprefix(RENDERS).split("/")[1]
