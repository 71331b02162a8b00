"""Catalog queries: groups, their members, and stores shared with them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.access import check_name
from core.catalog.rows import now
from core.catalog.schema import group_grants, group_members, groups, users
from core.errors import AlreadyExists, NotFound
from core.records import Group, GroupGrant, Role, Store


class GroupQueries:
    engine: Engine

    def create_group(self, name: str) -> Group:
        check_name(name, "group")
        try:
            with self.engine.begin() as conn:
                conn.execute(groups.insert().values(name=name, created_at=now()))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"There is already a group named '{name}'.") from exc
        return Group(name)

    def delete_group(self, name: str) -> None:
        self._require_group(name)
        with self.engine.begin() as conn:  # members and shares go with it (listed: SQLite may lack cascades)
            conn.execute(group_members.delete().where(group_members.c.group_name == name))
            conn.execute(group_grants.delete().where(group_grants.c.group_name == name))
            conn.execute(groups.delete().where(groups.c.name == name))

    def set_membership(self, group: str, user: str, *, member: bool) -> Group:
        self._require_group(group)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == user)).first() is None:
                raise NotFound(f"There is no user named '{user}'.")
            key = (group_members.c.group_name == group) & (group_members.c.user_name == user)
            conn.execute(group_members.delete().where(key))
            if member:
                conn.execute(group_members.insert().values(group_name=group, user_name=user))
        return next(g for g in self.list_groups() if g.name == group)

    def list_groups(self) -> list[Group]:
        with self.engine.connect() as conn:
            names = [r.name for r in conn.execute(sa.select(groups.c.name).order_by(groups.c.name))]
            members = conn.execute(sa.select(group_members).order_by(group_members.c.user_name)).all()
        return [Group(n, tuple(m.user_name for m in members if m.group_name == n)) for n in names]

    def grant_group(self, store: Store, group: str, role: Role) -> GroupGrant:
        self._require_group(group)
        with self.engine.begin() as conn:
            key = (group_grants.c.store_id == store.id) & (group_grants.c.group_name == group)
            conn.execute(group_grants.delete().where(key))
            conn.execute(group_grants.insert().values(store_id=store.id, group_name=group, role=role.value))
        return GroupGrant(store.name, group, role)

    def revoke_group(self, store: Store, group: str) -> None:
        with self.engine.begin() as conn:
            key = (group_grants.c.store_id == store.id) & (group_grants.c.group_name == group)
            conn.execute(group_grants.delete().where(key))

    def group_grants_of(self, store: Store) -> list[GroupGrant]:
        query = sa.select(group_grants).where(group_grants.c.store_id == store.id).order_by(group_grants.c.group_name)
        with self.engine.connect() as conn:
            return [GroupGrant(store.name, r.group_name, Role(r.role)) for r in conn.execute(query)]

    def group_roles(self, user: str, store: Store) -> list[Role]:
        """The roles the store was shared at with groups the user belongs to."""
        query = (
            sa.select(group_grants.c.role)
            .join(group_members, group_members.c.group_name == group_grants.c.group_name)
            .where(group_grants.c.store_id == store.id, group_members.c.user_name == user)
        )
        with self.engine.connect() as conn:
            return [Role(r.role) for r in conn.execute(query)]

    def _require_group(self, name: str) -> None:
        with self.engine.connect() as conn:
            if conn.execute(sa.select(groups.c.name).where(groups.c.name == name)).first() is None:
                raise NotFound(f"There is no group named '{name}'.")
