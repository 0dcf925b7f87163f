"""Which exceptions mean "a backend is unreachable right now" rather than "this work is bad".

Work that meets one of these is retried later (the task is re-queued), never marked failed.
"""

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

# What a client library raises when its server is down or slow.
BACKEND_DOWN: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    BotoConnectionError,
    HTTPClientError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,  # e.g. asyncpg's refused connection
    TimeoutError,
)
# A worker also waits out local trouble (a full disk) instead of failing the task.
UNAVAILABLE: tuple[type[Exception], ...] = (*BACKEND_DOWN, OSError)
