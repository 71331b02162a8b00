"""Catalog queries: API keys (kept as hashes) and the files uploaded to be added to stores later."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, RowMapping

from core.catalog.rows import now, utc
from core.catalog.schema import api_keys, files, rate_buckets
from core.errors import NotFound
from core.jobs import StoredFile
from core.records import ApiKey

LAST_USED_EVERY = timedelta(minutes=1)  # a key's last use is written at most this often (not on every request)


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user=row["user_name"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=utc(row["created_at"]),
        expires_at=_aware(row["expires_at"]),
        revoked_at=_aware(row["revoked_at"]),
        last_used_at=_aware(row["last_used_at"]),
    )


def _aware(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def _file(row: RowMapping) -> StoredFile:
    return StoredFile(
        id=row["id"],
        owner=row["owner"],
        filename=row["filename"],
        size_bytes=row["size_bytes"],
        purpose=row["purpose"],
        created_at=utc(row["created_at"]),
    )


class KeyQueries:
    engine: Engine

    def add_key(self, key: ApiKey, digest: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    user_name=key.user,
                    name=key.name,
                    prefix=key.prefix,
                    hash=digest,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                )
            )

    def keys(self, user: str | None = None) -> list[ApiKey]:
        """Keys of one user, or of everyone, newest first."""
        query = sa.select(api_keys).order_by(api_keys.c.created_at.desc())
        if user is not None:
            query = query.where(api_keys.c.user_name == user)
        with self.engine.connect() as conn:
            return [_key(r) for r in conn.execute(query).mappings()]

    def get_key(self, key_id: str) -> ApiKey:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        if row is None:
            raise NotFound(f"There is no API key '{key_id}'.")
        return _key(row)

    def key_by_hash(self, digest: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.hash == digest)).mappings().first()
        return _key(row) if row is not None else None

    def revoke_key(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )

    def key_used(self, key: ApiKey) -> None:
        at = now()
        if key.last_used_at is not None and at - key.last_used_at < LAST_USED_EVERY:
            return
        with self.engine.begin() as conn:
            conn.execute(api_keys.update().where(api_keys.c.id == key.id).values(last_used_at=at))

    # uploaded files

    def add_file(self, stored: StoredFile) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                files.insert().values(
                    id=stored.id,
                    owner=stored.owner,
                    filename=stored.filename,
                    size_bytes=stored.size_bytes,
                    purpose=stored.purpose,
                    created_at=stored.created_at,
                )
            )

    def get_file(self, file_id: str) -> StoredFile:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(files).where(files.c.id == file_id)).mappings().first()
        if row is None:
            raise NotFound(f"There is no file '{file_id}'.")
        return _file(row)

    def list_files(self, owner: str) -> list[StoredFile]:
        query = sa.select(files).where(files.c.owner == owner).order_by(files.c.created_at.desc())
        with self.engine.connect() as conn:
            return [_file(r) for r in conn.execute(query).mappings()]

    def delete_file(self, file_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(files.delete().where(files.c.id == file_id))

    def take_token(self, key_id: str, *, capacity: float, per_second: float, at: float) -> float | None:
        """Count one request of a key in its shared bucket, in one atomic statement (so every replica counts
        against the same limit): the tokens left, or None when the bucket had less than one (nothing is taken)."""
        b = rate_buckets.c
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(rate_buckets)
        later = insert.excluded.counted_at > b.counted_at  # a machine whose clock is behind refills nothing
        refilled = b.tokens + sa.case((later, insert.excluded.counted_at - b.counted_at), else_=0.0) * per_second
        topped = sa.case((refilled < capacity, refilled), else_=capacity)
        statement = (
            insert.values(key_id=key_id, tokens=capacity - 1.0, counted_at=at)
            .on_conflict_do_update(
                index_elements=[b.key_id],
                set_={
                    "tokens": topped - 1.0,
                    "counted_at": sa.case((later, insert.excluded.counted_at), else_=b.counted_at),
                },
                where=topped >= 1.0,
            )
            .returning(b.tokens)
        )
        with self.engine.begin() as conn:
            left = conn.execute(statement).scalar()
        return None if left is None else float(left)

    def bucket(self, key_id: str) -> tuple[float, float] | None:
        """A key's bucket as last counted: (tokens, when)."""
        b = rate_buckets.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(b.tokens, b.counted_at).where(b.key_id == key_id)).first()
        return (float(row.tokens), float(row.counted_at)) if row else None
