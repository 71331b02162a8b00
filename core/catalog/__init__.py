"""The metadata database (SQLite by default, any SQLAlchemy URL): one `Catalog` made of one query group per table
group; the tables and their upgrade are in `schema`, the row conversions in `rows`."""

from __future__ import annotations

from core.catalog.chunks import ChunkQueries
from core.catalog.conversations import ConversationQueries
from core.catalog.documents import DocumentQueries
from core.catalog.groups import GroupQueries
from core.catalog.jobs import JobQueries
from core.catalog.keys import KeyQueries
from core.catalog.migrations import make_engine, upgrade
from core.catalog.models import ModelQueries
from core.catalog.policies import PolicyQueries
from core.catalog.rows import GAVE_UP, WORKER, new_id, now
from core.catalog.stores import StoreQueries
from core.catalog.usage import UsageQueries
from core.catalog.users import UserQueries

__all__ = ["GAVE_UP", "WORKER", "Catalog", "new_id", "now"]


class Catalog(
    UserQueries,
    GroupQueries,
    StoreQueries,
    DocumentQueries,
    ChunkQueries,
    ConversationQueries,
    UsageQueries,
    KeyQueries,
    JobQueries,
    ModelQueries,
    PolicyQueries,
):
    """All metadata reads and writes; one instance per process, safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        upgrade(self.engine)
