"""Users: accounts and passwords (administrators), and what the sign-in form checks against."""

from __future__ import annotations

from typing import Any

from core import access
from core.errors import InvalidInput, PermissionDenied
from core.records import Actor, User
from core.workbench.services import Services


class Users:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog

    def add(self, actor: Actor, name: str, *, admin: bool = False, password: str | None = None) -> User:
        access.require_admin(actor.user)
        if name != name.lower():
            raise InvalidInput(
                f"User names are lowercase (the login form lowercases what people type): use '{name.lower()}'."
            )
        hashed = access.hash_password(password) if password is not None else None
        return self._catalog.add_user(name, is_admin=admin, password_hash=hashed)

    def names(self, actor: Actor) -> list[str]:
        """The names of everyone who can sign in (anyone signed in: owners pick people to share with)."""
        return [u.name for u in self._catalog.list_users() if not u.disabled]

    def all(self, actor: Actor) -> list[User]:
        access.require_admin(actor.user)
        return self._catalog.list_users()

    def set_password(self, actor: Actor, name: str, password: str, *, current: str | None = None) -> User:
        """An admin sets anyone's password; a user changes their own with their current one."""
        if not actor.is_admin:
            if actor.name != name:
                raise PermissionDenied("Only an administrator can set another user's password.")
            hashed = self._catalog.password_hash(name)
            if actor.user.has_password and not access.password_matches(current or "", hashed):
                raise PermissionDenied("Your current password is not right; nothing was changed.")
        self._catalog.get_user(name)
        updated = self._catalog.update_user(name, password_hash=access.hash_password(password))
        self._catalog.set_login_failures(name, 0)  # a new password unlocks the account
        return updated

    def set_admin(self, actor: Actor, name: str, admin: bool) -> User:
        access.require_admin(actor.user)
        target = self._catalog.get_user(name)
        if target.is_admin and not admin and not self._other_admins(name):
            raise PermissionDenied(f"'{name}' is the last administrator; make someone else an administrator first.")
        return self._catalog.update_user(name, is_admin=admin)

    def set_disabled(self, actor: Actor, name: str, disabled: bool) -> User:
        """A disabled user can do nothing and cannot log in; their stores and documents stay."""
        access.require_admin(actor.user)
        if disabled and name == actor.name:
            raise PermissionDenied("You cannot disable your own account.")
        target = self._catalog.get_user(name)
        if disabled and target.is_admin and not self._other_admins(name):
            raise PermissionDenied(f"'{name}' is the last administrator and cannot be disabled.")
        return self._catalog.update_user(name, disabled=disabled)

    def _other_admins(self, name: str) -> bool:
        return any(u.is_admin and not u.disabled and u.name != name for u in self._catalog.list_users())

    # before anyone is signed in

    def needs_first_admin(self) -> bool:
        """True until some enabled administrator has a password: the login page then offers to create one."""
        return not any(u.is_admin and u.has_password and not u.disabled for u in self._catalog.list_users())

    def create_first_admin(self, name: str, password: str) -> User:
        """The first administrator with a password; refused once there is one (then admins add users)."""
        with self._s.lock:
            if not self.needs_first_admin():
                raise PermissionDenied("An administrator already exists; sign in, or ask them for an account.")
            name = name.strip().lower()
            access.check_name(name, "user")
            hashed = access.hash_password(password)
            if any(u.name == name for u in self._catalog.list_users()):
                return self._catalog.update_user(name, password_hash=hashed, is_admin=True, disabled=False)
            return self._catalog.add_user(name, is_admin=True, password_hash=hashed)

    def login_credentials(self, only: str | None = None) -> dict[str, Any]:
        """What the login form checks against, in streamlit-authenticator's shape: enabled users with a password,
        their bcrypt hash and the failed logins still in force (the form refuses past MAX_LOGIN_FAILURES).
        `only`: just that user (a signed-in session needs no one else's entry)."""
        entries: dict[str, Any] = {}
        for account in self._catalog.list_users():
            if only is not None and account.name != only:
                continue
            hashed = self._catalog.password_hash(account.name)
            if account.disabled or not hashed:
                continue
            count, last = self._catalog.login_failures(account.name)
            entries[account.name] = {
                "name": account.name,
                "email": "",
                "password": hashed,
                "roles": ["admin" if account.is_admin else "user"],
                "failed_login_attempts": access.failures_in_force(count, last),
                "logged_in": False,
            }
        return {"usernames": entries}

    def record_login_failures(self, name: str, count: int) -> None:
        """Keep the login form's count of failed attempts for a user (0 after a successful login)."""
        if name in {u.name for u in self._catalog.list_users()}:
            self._catalog.set_login_failures(name, count)

    def cookie_key(self) -> str:
        return access.cookie_key(self._s.settings.cookie_key, self._s.settings.data_dir)
