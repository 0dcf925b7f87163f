"""S3-compatible object storage (AWS S3, MinIO) over aiobotocore.

The bucket is created when missing and left private (no ACL or policy is ever set).
Files above one part go up as a multipart upload read part by part, so a large upload is
never held whole in memory.

Checksums are sent and checked only where S3 requires them (botocore's
`request_checksum_calculation` / `response_checksum_validation` = "when_required", its
behaviour before 2025): a CRC32 of every object both ways cost about 0.6 ms of CPU per
call of a 2.6 MB photo, and S3-compatible stores do not all accept the newer headers.
TCP (and TLS, on any real endpoint) already guards the bytes in transit.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from pix_erase.platform.storage import LocalFile
from pix_erase.setup.config import StorageSettings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef
else:
    S3Client = CompletedPartTypeDef = Any

PART_SIZE = 8 * 1024 * 1024
CHUNK = 1024 * 1024


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                secret = self.settings.secret_access_key
                client = await self._stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=self.settings.endpoint_url,
                        region_name=self.settings.region,
                        aws_access_key_id=self.settings.access_key_id,
                        aws_secret_access_key=secret.get_secret_value() if secret else None,
                        config=AioConfig(
                            connect_timeout=3,
                            read_timeout=30,
                            retries={"max_attempts": 3, "mode": "standard"},
                            s3={"addressing_style": "path"},
                            request_checksum_calculation="when_required",
                            response_checksum_validation="when_required",
                        ),
                    )
                )
                await self._ensure_bucket(client)
                self._client = client
        return self._client

    async def _ensure_bucket(self, client: S3Client) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _missing(exc):
                raise
            try:
                await client.create_bucket(Bucket=self.bucket)
            except ClientError as create_exc:  # another process created it first
                code = create_exc.response.get("Error", {}).get("Code")
                if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        s3 = await self._s3()
        size = (await asyncio.to_thread(path.stat)).st_size
        with path.open("rb") as handle:
            if size <= PART_SIZE:
                body = await asyncio.to_thread(handle.read)
                await s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
                )
            else:
                await self._multipart(s3, key, handle, content_type)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _multipart(self, s3: S3Client, key: str, handle: Any, content_type: str) -> None:
        upload = await s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type
        )
        upload_id = upload["UploadId"]
        parts: list[CompletedPartTypeDef] = []
        try:
            number = 1
            while part := await asyncio.to_thread(handle.read, PART_SIZE):
                sent = await s3.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                )
                parts.append({"ETag": sent["ETag"], "PartNumber": number})
                number += 1
            await s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        s3 = await self._s3()
        await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def get_bytes(self, key: str) -> bytes:
        s3 = await self._s3()
        response = await s3.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
            return data

    def local_path(self, key: str) -> Path | None:
        return None

    def local_file(self, key: str) -> LocalFile | None:
        return None

    async def find_bytes(self, key: str) -> bytes | None:
        try:
            return await self.get_bytes(key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    async def get_range(self, key: str, start: int, length: int) -> bytes:
        s3 = await self._s3()
        byte_range = f"bytes={start}-{start + length - 1}"
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=key, Range=byte_range)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # `start` is at or past the end of the object
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
            return data

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        response = await s3.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            while chunk := await body.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=key)

    async def list_keys(self, prefix: str) -> list[str]:
        return [key for key, _ in await self.list_objects(prefix)]

    async def list_objects(self, prefix: str) -> list[tuple[str, datetime]]:
        s3 = await self._s3()
        found: list[tuple[str, datetime]] = []
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if "Key" in item and "LastModified" in item:
                    modified = item["LastModified"]
                    if modified.tzinfo is None:
                        modified = modified.replace(tzinfo=UTC)
                    found.append((item["Key"], modified))
        return sorted(found)

    async def ping(self) -> None:
        s3 = await self._s3()
        await s3.head_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
