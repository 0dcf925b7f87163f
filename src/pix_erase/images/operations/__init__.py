"""Every operation a user can ask for, each declared once in a module of this package.

A module declares its operations as `SPECS` (see `registry.OperationSpec`): parameter
model, task kind, handler, submission check, whether it is a pipeline step. From them:
`Operation` (the request union, and so the OpenAPI schema), `TASK_HANDLERS` (what the
worker runs), `spec_for` (the API's checks) and `operations_table` (the README's table).
Adding an operation is adding a module here, or a step module in
`pix_erase.processing.steps`, which `pipeline` declares for you.
"""

import importlib
import pkgutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Field

from pix_erase.images.operations.registry import CheckContext, Handler, OperationSpec

_INFRASTRUCTURE = {"__main__", "registry", "results", "params", "budget"}


def _discover() -> tuple[OperationSpec[Any], ...]:
    specs: list[OperationSpec[Any]] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _INFRASTRUCTURE:
            specs.extend(importlib.import_module(f"{__name__}.{module.name}").SPECS)
    return tuple(sorted(specs, key=lambda spec: (not spec.step, spec.name)))


OPERATIONS = _discover()
_BY_NAME = {spec.name: spec for spec in OPERATIONS}
_BY_MODEL = {spec.params: spec for spec in OPERATIONS}
if len(_BY_NAME) != len(OPERATIONS):
    raise RuntimeError("two operations share a name")


def _handlers() -> Mapping[str, Handler]:
    handlers: dict[str, Handler] = {}
    for spec in OPERATIONS:
        if handlers.setdefault(spec.kind, spec.handler) is not spec.handler:
            raise RuntimeError(f"task kind {spec.kind!r} has two handlers")
    return handlers


TASK_HANDLERS = _handlers()
"""Task kind -> the handler the worker runs for it."""


def spec_for(name: str) -> OperationSpec[Any]:
    return _BY_NAME[name]


def spec_of(params: BaseModel) -> OperationSpec[Any]:
    """The declaration of an operation, given its parameters."""
    return _BY_MODEL[type(params)]


_SUBMITTED = tuple(spec.params for spec in OPERATIONS if spec.submit)
if TYPE_CHECKING:
    Operation = BaseModel
else:
    Operation = Annotated[Union[_SUBMITTED], Field(discriminator="type")]  # noqa: UP007


def operations_table() -> str:
    """The Markdown table of operations that the README shows."""
    rows = [
        "| `type` | parameters | what it does | pipeline step |",
        "|---|---|---|---|",
    ]
    for spec in OPERATIONS:
        if not spec.submit:
            continue
        params = ", ".join(f"`{name}`" for name in spec.params.model_fields if name != "type")
        step = "yes" if spec.step else "no"
        rows.append(f"| `{spec.name}` | {params or '—'} | {spec.summary} | {step} |")
    return "\n".join(rows) + "\n"


__all__ = [
    "OPERATIONS",
    "TASK_HANDLERS",
    "CheckContext",
    "Operation",
    "OperationSpec",
    "operations_table",
    "spec_for",
    "spec_of",
]
