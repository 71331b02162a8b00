"""The composition root: services built once, and the product's operations grouped by noun.

Every operation takes the acting identity first (`Workbench.actor` resolves it once, at the edge: sign-in,
an API key, the CLI's --user), authorizes it, and makes one call below. The front ends call only this.
"""

from __future__ import annotations

from datetime import datetime

from core.catalog import WORKER, Catalog
from core.config import Settings
from core.records import Actor, Channel
from core.workbench.chat import Chat
from core.workbench.documents import Documents
from core.workbench.files import Files, Jobs
from core.workbench.groups import Groups
from core.workbench.keys import Keys
from core.workbench.models import Models
from core.workbench.runner import JobRunner
from core.workbench.search import Evaluations, Search
from core.workbench.services import WARM_STORES, Services
from core.workbench.stores import Stores, StoreSummary
from core.workbench.usage import Usage
from core.workbench.users import Users

__all__ = ["StoreSummary", "Workbench"]


class Workbench:
    """One per process; shared by every session of the app (it holds no per-user state)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.services = services = Services(settings)
        self.users = Users(services)
        self.groups = Groups(services)
        self.stores = Stores(services)
        self.documents = Documents(services)
        self.search = Search(services)
        self.chat = Chat(services)
        self.evaluations = Evaluations(services, self.chat)
        self.usage = Usage(services)
        self.keys = Keys(services)
        self.models = Models(services)
        self.files = Files(services)
        self.jobs = Jobs(services, self.files, self.documents)
        self.runner = JobRunner(services, self.documents, self.files)
        services.recover()
        self.usage.forget_expired()  # the retention of the audit of remote model calls, at every start
        if self.settings.admin_password and self.users.needs_first_admin():
            self.users.create_first_admin(self.settings.admin_user, self.settings.admin_password)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    def warm_up(self) -> list[str]:
        """Load the stores' bundled models now (run it in the background once the first page is drawn)."""
        return self.services.warm_up()

    def health(self) -> dict[str, str]:
        """Whether this process can serve: its catalog answers (what a load balancer's check asks). Raises
        CatalogUnavailable in words when it does not."""
        self.catalog.ping()
        return {"status": "ok", "worker": WORKER}

    def start_jobs(self) -> None:
        """Run background jobs in this process (the app and the API server; not the command line): files added to
        stores, and the stores' indexes kept current."""
        self.runner.start()
        try:
            stores = self.catalog.list_stores()
        except Exception:  # the catalog out of reach: the indexes are looked at after the next ingest instead
            stores = []
        recent = sorted(stores, key=lambda s: s.created_at, reverse=True)[:WARM_STORES]  # the others: at their ingest
        self.services.maintenance.start(recent)

    def stop_jobs(self) -> None:
        """Stop this process's background work (a job running is handed back to the queue)."""
        self.runner.stop()
        self.services.maintenance.stop()

    def actor(
        self, name: str, channel: Channel = Channel.APP, *, key_id: str | None = None, since: datetime | None = None
    ) -> Actor:
        """Who is acting, resolved once at the edge: refused when the name is empty, unknown or disabled, or
        (`since`: when a browser session began) when that session has ended."""
        return self.services.actor(name, channel, key_id=key_id, since=since)
