"""Pipeline steps: every `PixelStep` subclass defined in a module of this package.

`STEP_TYPES` lists them (found by importing each module here), and `Step` is their
discriminated union by `type`, the schema of one step in a request.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from .base import DecodeHint, PixelStep, Planned
from .convert import Convert
from .grayscale import Grayscale
from .resize import Resize
from .rotate import Rotate


def _discover() -> tuple[type[PixelStep], ...]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return tuple(sorted(PixelStep.__subclasses__(), key=lambda step: step.__name__))


STEP_TYPES = _discover()

if TYPE_CHECKING:
    Step = PixelStep
else:
    Step = Annotated[Union[STEP_TYPES], Field(discriminator="type")]  # noqa: UP007

__all__ = [
    "STEP_TYPES",
    "Convert",
    "DecodeHint",
    "Grayscale",
    "PixelStep",
    "Planned",
    "Resize",
    "Rotate",
    "Step",
]
