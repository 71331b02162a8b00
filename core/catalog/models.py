"""Catalog queries: the model connections administrators make on the Models page, and the app's own settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from core.catalog.rows import now, utc
from core.catalog.schema import app_settings, model_connections
from core.errors import InvalidInput, NotFound
from core.models import Connection, ServedModel


def _connection(row: RowMapping) -> Connection:
    return Connection(
        id=row["id"],
        name=row["name"],
        provider=row["provider"],
        api_base=row["api_base"],
        api_version=row["api_version"],
        key_prefix=row["key_prefix"],
        models=tuple(
            ServedModel(str(m["name"]), str(m.get("kind") or "chat"), bool(m.get("vision"))) for m in row["models"]
        ),
        created_by=row["created_by"],
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
    )


def _models(connection: Connection) -> list[dict[str, Any]]:
    return [{"name": m.name, "kind": m.kind, "vision": m.vision} for m in connection.models]


class ModelQueries:
    engine: Engine

    def connections(self) -> list[Connection]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(model_connections).order_by(model_connections.c.name)).mappings()
            return [_connection(r) for r in rows]

    def add_connection(self, connection: Connection, sealed_key: str | None) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    model_connections.insert().values(
                        id=connection.id,
                        name=connection.name,
                        provider=connection.provider,
                        api_base=connection.api_base,
                        api_version=connection.api_version,
                        sealed_key=sealed_key,
                        key_prefix=connection.key_prefix,
                        models=_models(connection),
                        created_by=connection.created_by,
                        created_at=connection.created_at,
                        updated_at=connection.updated_at,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise InvalidInput(
                f"There is already a connection named '{connection.name}'; choose another name."
            ) from exc

    def update_connection(self, connection: Connection, sealed_key: str | None, *, new_key: bool) -> None:
        values: dict[str, Any] = {
            "api_base": connection.api_base,
            "api_version": connection.api_version,
            "models": _models(connection),
            "updated_at": connection.updated_at,
        }
        if new_key:
            values.update(sealed_key=sealed_key, key_prefix=connection.key_prefix)
        with self.engine.begin() as conn:
            done = conn.execute(
                model_connections.update().where(model_connections.c.id == connection.id).values(**values)
            )
        if done.rowcount == 0:
            raise NotFound(f"There is no such connection: '{connection.name}'.")

    def remove_connection(self, connection_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(model_connections.delete().where(model_connections.c.id == connection_id))

    def sealed_key(self, connection_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(model_connections.c.sealed_key).where(model_connections.c.id == connection_id)
            ).scalar_one_or_none()

    def app_setting(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(app_settings.c.value).where(app_settings.c.key == key)).scalar_one_or_none()

    def set_app_setting(self, key: str, value: Mapping[str, Any] | list[Any], *, by: str) -> None:
        self.change_app_setting(key, lambda _: value, by=by)

    def change_app_setting(
        self, key: str, change: Callable[[Any], Mapping[str, Any] | list[Any]], *, by: str
    ) -> Mapping[str, Any] | list[Any]:
        """Read, change and write one setting in one transaction (a row lock on PostgreSQL): two administrators
        saving at once both count, and two replicas writing it first do not collide."""
        row = app_settings.c.key == key
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    current = conn.execute(sa.select(app_settings.c.value).where(row).with_for_update()).first()
                    value = change(current[0] if current is not None else None)
                    stamp = {"value": value, "updated_by": by, "updated_at": now()}
                    if current is None:
                        conn.execute(app_settings.insert().values(key=key, **stamp))
                    else:
                        conn.execute(app_settings.update().where(row).values(**stamp))
                    return value
            except sa.exc.IntegrityError:  # another process wrote it first: change theirs
                if attempt:
                    raise
        raise AssertionError("unreachable")
