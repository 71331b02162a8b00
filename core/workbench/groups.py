"""Groups: teams of users that administrators manage and that owners share stores with in one step."""

from __future__ import annotations

import logging

from core import access
from core.records import Actor, Group
from core.workbench.services import Services

log = logging.getLogger(__name__)


class Groups:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog

    def all(self, actor: Actor) -> list[Group]:
        """Every group with its members (anyone signed in: owners pick groups to share with)."""
        return self._catalog.list_groups()

    def create(self, actor: Actor, name: str) -> Group:
        access.require_admin(actor.user, "manage groups")
        group = self._catalog.create_group(name)
        log.info("%s created group %s", actor.name, name)
        return group

    def delete(self, actor: Actor, name: str) -> None:
        """Remove a group; what was shared with it is no longer shared with its members through it."""
        access.require_admin(actor.user, "manage groups")
        self._catalog.delete_group(name)
        log.info("%s deleted group %s", actor.name, name)

    def add_member(self, actor: Actor, group: str, user: str) -> Group:
        access.require_admin(actor.user, "manage groups")
        return self._catalog.set_membership(group, user, member=True)

    def remove_member(self, actor: Actor, group: str, user: str) -> Group:
        access.require_admin(actor.user, "manage groups")
        return self._catalog.set_membership(group, user, member=False)
