"""Where an image's bytes live in storage: the one naming rule for uploads and results."""

import uuid

PREFIX = "images/"


def image_key(owner_id: uuid.UUID, image_id: uuid.UUID) -> str:
    return f"{PREFIX}{owner_id}/{image_id}"
