"""Catalog queries: users and grants."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from core.access import check_name
from core.catalog.rows import now, user_of, utc
from core.catalog.schema import grants, group_grants, group_members, sign_in_failures, users
from core.errors import AlreadyExists, NotFound
from core.records import Grant, Role, Store, User


class UserQueries:
    engine: Engine

    def ensure_user(self, name: str, *, is_admin: bool = False) -> User:
        """Return the user, creating it on first sight."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
            if row is None:
                conn.execute(users.insert().values(name=name, is_admin=is_admin, created_at=now()))
                return User(name=name, is_admin=is_admin, created_at=now())
        return user_of(row)

    def add_user(self, name: str, *, is_admin: bool = False, password_hash: str | None = None) -> User:
        check_name(name, "user")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise AlreadyExists(f"A user named '{name}' already exists.")
            created = now()
            conn.execute(
                users.insert().values(name=name, is_admin=is_admin, password_hash=password_hash, created_at=created)
            )
        return User(name=name, is_admin=is_admin, created_at=created)

    def get_user(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"There is no user named '{name}'.")
        return user_of(row)

    def password_hash(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.password_hash).where(users.c.name == name)).scalar()

    def update_user(
        self, name: str, *, password_hash: str | None = None, is_admin: bool | None = None, disabled: bool | None = None
    ) -> User:
        values: dict[str, object] = {}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if is_admin is not None:
            values["is_admin"] = is_admin
        if disabled is not None:
            values["disabled"] = disabled
        with self.engine.begin() as conn:
            if values:
                conn.execute(users.update().where(users.c.name == name).values(**values))
        return self.get_user(name)

    def count_sign_in(self, name: str, *, window: timedelta) -> int:
        """Count one sign-in try for a typed name and return the tries now in force, in one atomic statement
        (parallel tries each see their own count): a try more than `window` after the last one starts again at 1."""
        at = now()
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(sign_in_failures)
        fresh = sign_in_failures.c.last_at < at - window
        statement = (
            insert.values(name=name, count=1, last_at=at)
            .on_conflict_do_update(
                index_elements=[sign_in_failures.c.name],
                set_={"count": sa.case((fresh, 1), else_=sign_in_failures.c.count + 1), "last_at": at},
            )
            .returning(sign_in_failures.c.count)
        )
        with self.engine.begin() as conn:
            conn.execute(sign_in_failures.delete().where(sign_in_failures.c.last_at < at - window))  # stale names
            return int(conn.execute(statement).scalar_one())

    def sign_in_failures(self, name: str, *, window: timedelta) -> int:
        """The tries in force for a typed name (0 once `window` has passed since the last)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sign_in_failures).where(sign_in_failures.c.name == name)).mappings().first()
        return int(row["count"]) if row is not None and now() - utc(row["last_at"]) < window else 0

    def clear_sign_in_failures(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sign_in_failures.delete().where(sign_in_failures.c.name == name))

    def end_sessions(self, name: str) -> None:
        """Every sign-in of the user made until now has ended (their cookies and open tabs are refused)."""
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.name == name).values(sessions_valid_after=now()))

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [user_of(r) for r in conn.execute(sa.select(users).order_by(users.c.name)).mappings()]

    def grant(self, store: Store, user: str, role: Role) -> Grant:
        self.get_user(user)
        with self.engine.begin() as conn:
            conn.execute(grants.delete().where(grants.c.store_id == store.id, grants.c.user_name == user))
            conn.execute(grants.insert().values(store_id=store.id, user_name=user, role=role.value))
        return Grant(store=store.name, user=user, role=role)

    def revoke(self, store: Store, user: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(grants.delete().where(grants.c.store_id == store.id, grants.c.user_name == user))

    def granted_role(self, user: str, store: Store) -> Role | None:
        """The highest role the store was shared with the user at, directly or through a group they belong to
        (who else may act is `access.role_on`'s rule): one query."""
        direct = sa.select(grants.c.role).where(grants.c.store_id == store.id, grants.c.user_name == user)
        via = (
            sa.select(group_grants.c.role)
            .join(group_members, group_members.c.group_name == group_grants.c.group_name)
            .where(group_grants.c.store_id == store.id, group_members.c.user_name == user)
        )
        with self.engine.connect() as conn:
            roles = [Role(r) for r in conn.execute(sa.union_all(direct, via)).scalars()]
        return max(roles, key=lambda r: r.rank, default=None)

    def granted_roles(self, user: str) -> dict[str, Role]:
        """Store id -> the highest role the user was granted on it, directly or through a group: one query for
        every store (a store list asks once, not once per store)."""
        direct = sa.select(grants.c.store_id, grants.c.role).where(grants.c.user_name == user)
        via = (
            sa.select(group_grants.c.store_id, group_grants.c.role)
            .join(group_members, group_members.c.group_name == group_grants.c.group_name)
            .where(group_members.c.user_name == user)
        )
        found: dict[str, Role] = {}
        with self.engine.connect() as conn:
            for store_id, role in conn.execute(sa.union_all(direct, via)):
                granted = Role(role)
                if store_id not in found or granted.rank > found[store_id].rank:
                    found[store_id] = granted
        return found

    def grants_of(self, store: Store) -> list[Grant]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(grants).where(grants.c.store_id == store.id).order_by(grants.c.user_name))
            return [Grant(store=store.name, user=r.user_name, role=Role(r.role)) for r in rows]
