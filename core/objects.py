"""Bytes that any process of the product may need to read: uploaded files waiting for (or after) their job, and
the kept originals of PDF documents. On the local disk by default; on S3-compatible object storage when
`WORKBENCH_FILES_URI=s3://bucket/prefix`, so that a job claimed on another machine, or a cited page opened there,
finds the file.

Read and written with obstore: the Rust `object_store` crate that LanceDB itself uses for its tables, so tables and
files are reached with the same client, the same settings and the same standard AWS variables; its local-disk store
is the same interface, so the default keeps one code path. Nothing here speaks S3 itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import LocalStore, S3Store

from core import redact
from core.errors import BackendUnavailable, InvalidInput

log = logging.getLogger(__name__)

T = TypeVar("T")
MISSING = (FileNotFoundError, NotFoundError)
RETRY_S = 15  # a storage out of reach is said within this long (obstore would keep trying for three minutes)
DEFAULT_REGION = "us-east-1"  # what an S3-compatible server that ignores regions is asked for


class ObjectStoreUnavailable(BackendUnavailable):
    """The object storage refused or could not be reached (a server error: try again later)."""


def remote(uri: str) -> bool:
    return uri.startswith("s3://")


def s3_options(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connection to S3-compatible storage from the standard AWS variables (as LanceDB's and obstore's
    `storage_options`/`config`): an `http://` endpoint is allowed, for a server on the same network."""
    env = os.environ if env is None else env
    options = {"aws_region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or ""
    if endpoint:
        options["aws_endpoint"] = endpoint
        if endpoint.startswith("http://"):
            options["aws_allow_http"] = "true"
    for variable, key in (
        ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
        ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
        ("AWS_SESSION_TOKEN", "aws_session_token"),
    ):
        if env.get(variable):
            options[key] = env[variable]
    redact.remember([options.get("aws_secret_access_key", ""), options.get("aws_session_token", "")])
    return options


def split_s3(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> (bucket, some/prefix), refused in words when it names no bucket."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise InvalidInput(f"'{uri}' names no bucket; write it as s3://bucket/prefix.")
    return bucket, prefix.strip("/")


class Objects:
    """Named blobs under one root: a local folder, or a bucket and prefix on S3-compatible storage."""

    def __init__(
        self, uri: str | Path, env: Mapping[str, str] | None = None, *, options: Mapping[str, str] | None = None
    ) -> None:
        """`options`: the connection as `s3_options` makes it; by default, from `env` (the process environment)."""
        self.uri = str(uri)
        if remote(self.uri):
            bucket, prefix = split_s3(self.uri)
            config = dict(options) if options is not None else s3_options(env)
            self._store: LocalStore | S3Store = S3Store(
                bucket,
                prefix=prefix or None,
                config=config,  # type: ignore[arg-type]
                retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=RETRY_S)},
                client_options={"connect_timeout": timedelta(seconds=5), "timeout": timedelta(seconds=300)},
            )
        else:
            folder = Path(self.uri).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            self._store = LocalStore(folder, mkdir=True)

    @property
    def remote(self) -> bool:
        return remote(self.uri)

    def put(self, key: str, data: bytes) -> None:
        """Write at once: a reader sees the whole object or none (a local one is written beside and renamed)."""
        self._call("write", key, lambda: obstore.put(self._store, key, data))

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is none."""
        try:
            return self._call("read", key, lambda: bytes(obstore.get(self._store, key).bytes()))
        except MISSING:
            return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(*MISSING):
            self._call("delete", key, lambda: obstore.delete(self._store, key))

    def keys(self, prefix: str) -> list[str]:
        return self._call("list", prefix, lambda: [m["path"] for b in obstore.list(self._store, prefix) for m in b])

    def size(self, prefix: str) -> int:
        """Bytes held under a prefix (a LanceDB table's folder, say)."""
        try:
            return self._call(
                "measure", prefix, lambda: sum(m["size"] for b in obstore.list(self._store, prefix) for m in b)
            )
        except MISSING:
            return 0

    def delete_prefix(self, prefix: str) -> None:
        try:
            keys = self.keys(prefix)
        except MISSING:
            return
        if keys:
            self._call("delete", prefix, lambda: obstore.delete(self._store, keys))

    def _call(self, what: str, key: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except MISSING:
            raise
        except BaseError as exc:
            log.warning("object storage: could not %s %s: %s", what, key, redact.redact(str(exc).splitlines()[0]))
            raise ObjectStoreUnavailable(
                f"The file storage ({self.where}) could not {what} {key.rsplit('/', 1)[-1]}: "
                f"{redact.redact(str(exc).splitlines()[0])[:300]}"
            ) from None

    @property
    def where(self) -> str:
        return self.uri if self.remote else "local disk"
