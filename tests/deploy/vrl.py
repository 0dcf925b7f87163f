"""Vector's remap of PixErase's log lines, run with VRL's own runtime (pyvrl).

`remap_line(line, container)` builds the event Vector's `docker_logs` source makes of one
line a container wrote, runs the exact VRL of deploy/prod/vector/vector.yaml on it and
returns the result: the `log_*` fields of docs/observability.md, `container_name` and `timestamp`.
`loki_line(event)` is the line the `loki` sink then sends (the JSON of the event without
the label field and the timestamp).

One difference from Vector: pyvrl takes no timestamp values, so Docker's receive time is
passed as an RFC 3339 string where Vector has a VRL timestamp. The remap handles both.
"""

import functools
import json
from pathlib import Path
from typing import Any, cast

import pyvrl  # type: ignore[import-untyped]
import yaml

VECTOR_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "prod" / "vector" / "vector.yaml"
REMAP = "pix_erase_remap"

# The documented log fields, in its order.
LOG_FIELDS = (
    "log_level",
    "log_event",
    "log_trace_id",
    "log_span_id",
    "log_http_method",
    "log_url",
    "log_status_code",
    "log_client_addr",
    "log_timestamp",
)
# Docker's receive time of the sample lines.
DOCKER_TIMESTAMP = "2026-11-25T20:41:43.155400Z"


def vector_config() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load(VECTOR_CONFIG.read_text()))


def vrl_source() -> str:
    """The remap transform's VRL, exactly as Vector reads it."""
    return cast(str, vector_config()["transforms"][REMAP]["source"])


@functools.cache
def _transform() -> Any:
    # pyvrl returns the value of the program's last expression: end on the event itself.
    return pyvrl.Transform(vrl_source() + "\n.\n")


def docker_event(
    line: str, container: str, *, stream: str = "stdout", timestamp: str = DOCKER_TIMESTAMP
) -> dict[str, Any]:
    """The event `docker_logs` emits for one line (container names have no leading slash)."""
    service = container.rsplit(".", 1)[-1]
    return {
        "message": line,
        "container_name": container,
        "container_id": "3c2f0e8a9b1d4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6",
        "container_created_at": "2026-11-25T20:00:01.000000Z",
        "image": "pix-erase:local",
        "label": {
            "com.docker.compose.project": "pix-erase",
            "com.docker.compose.service": service,
        },
        "stream": stream,
        "source_type": "docker_logs",
        "host": "4a1b2c3d4e5f",
        "timestamp": timestamp,
    }


def remap_line(line: str, container: str, *, stream: str = "stdout") -> dict[str, Any]:
    """Run vector.yaml's remap on `line` as written by `container` on `stream`."""
    return cast(dict[str, Any], _transform().remap(docker_event(line, container, stream=stream)))


def loki_line(event: dict[str, Any]) -> str:
    """The line Vector's loki sink sends for a remapped event.

    The sink's json codec writes the event's fields in key order without spaces, less
    `container_name` (remove_label_fields) and `timestamp` (remove_timestamp).
    """
    fields = {k: v for k, v in event.items() if k not in ("container_name", "timestamp")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
