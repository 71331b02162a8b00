"""The catalog's engine, and the upgrade of a catalog made by an earlier version (run at every start)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.catalog.schema import (
    JOB_DOCUMENTS,
    JOB_RECENT,
    ONE_LIVE_COPY,
    ONE_LIVE_JOB,
    STORE_NEWEST,
    STORE_STATUS,
    metadata,
    stores,
    usage_stores,
)
from core.errors import CatalogUnavailable, disk_full

log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, pool_pre_ping=True)  # a connection the server dropped is replaced, not used
    sa.event.listen(engine, "handle_error", _plain_outage)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _plain_outage(context: sa.engine.ExceptionContext) -> None:
    """A catalog that cannot be reached or written is said in words (the transaction was rolled back, so nothing
    was half-written); other database errors go on as they are."""
    error = context.original_exception
    if disk_full(error) or "could not extend file" in str(error):  # PostgreSQL's words for it
        raise CatalogUnavailable(
            "The disk holding the catalog database is full; free some space and try again. Nothing was changed."
        ) from error
    dbapi = context.dialect.loaded_dbapi if context.dialect is not None else None
    operational = dbapi is not None and isinstance(error, dbapi.OperationalError | dbapi.InterfaceError)
    if context.is_disconnect or (operational and context.dialect is not None and context.dialect.name != "sqlite"):
        log.warning("catalog database unreachable: %s", str(error).splitlines()[0] if str(error) else type(error))
        raise CatalogUnavailable(
            "The catalog database is not reachable (its server may have stopped); try again in a moment. "
            "Nothing was changed."
        ) from error


def _add_missing_columns(engine: Engine) -> None:
    """Upgrade a catalog made by an earlier version: add the columns it lacks (with their defaults)."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                ddl = sa.schema.CreateColumn(column).compile(dialect=engine.dialect)  # name, type, default
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
                log.info("catalog upgraded: %s.%s added", table.name, column.name)


UPGRADE_LOCK = 0x5742_0001  # a PostgreSQL advisory lock: replicas starting at once upgrade one after the other


@contextlib.contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, hold the upgrade lock (two replicas adding the same column at once: one would fail)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK})


def upgrade(engine: Engine) -> None:
    """Bring a catalog of any earlier version up to this one (idempotent; run at every start, by one process at a
    time)."""
    with _one_at_a_time(engine):
        for attempt in range(3):
            try:
                _upgrade(engine)
                return
            except sa.exc.DatabaseError as exc:  # SQLite: another process added the same table or column first
                if attempt == 2 or not any(w in str(exc) for w in ("already exists", "duplicate column")):
                    raise
                log.info("catalog upgrade met another process's: looking again")


def _upgrade(engine: Engine) -> None:
    metadata.create_all(engine)
    _add_missing_columns(engine)
    ONE_LIVE_JOB.create(engine, checkfirst=True)
    STORE_STATUS.create(engine, checkfirst=True)
    JOB_DOCUMENTS.create(engine, checkfirst=True)
    JOB_RECENT.create(engine, checkfirst=True)
    STORE_NEWEST.create(engine, checkfirst=True)
    try:  # a catalog from before the index may hold duplicates already: it then works without it
        ONE_LIVE_COPY.create(engine, checkfirst=True)
    except sa.exc.IntegrityError:
        log.warning("the catalog holds duplicate documents; remove them so that concurrent uploads cannot add more")
    with engine.begin() as conn:  # usage recorded by store name before it was keyed by id: link it to the store
        unlinked = usage_stores.c.store_id.is_(None)
        owner = sa.select(stores.c.id).where(stores.c.name == usage_stores.c.store).scalar_subquery()
        conn.execute(usage_stores.update().where(unlinked).values(store_id=owner))
        conn.execute(usage_stores.update().where(unlinked).values(store_id=""))  # its store is gone: never relinked
