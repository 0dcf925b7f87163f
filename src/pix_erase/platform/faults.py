"""Which exceptions mean "a backend is unreachable right now" rather than "this work is bad".

Work that meets one of these is retried later (the task is re-queued), never marked failed.
"""

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    OSError,  # ConnectionRefusedError, TimeoutError, a full disk
    BotoConnectionError,
    HTTPClientError,
    RedisConnectionError,
    RedisTimeoutError,
)
