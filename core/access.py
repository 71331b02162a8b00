"""Who may do what: passwords, the acting user, and the one check every store operation makes.

Passwords are bcrypt hashes made exactly as streamlit-authenticator makes them (`bcrypt.hashpw` with a fresh
salt, stored as text), so a hash written by core logs in through the login page and the other way round.
A store a user may not see does not exist for them: refusals then read like a missing store.
"""

from __future__ import annotations

import enum
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt

from core.errors import InvalidInput, PermissionDenied, StoreNotFound
from core.records import Role, Store, User

MAX_LOGIN_FAILURES = 5  # failed logins in a row before an account waits LOCKOUT
LOCKOUT = timedelta(minutes=15)
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further; longer passwords are refused rather than silently cut
MIN_PASSWORD_CHARS = 8


class Action(enum.StrEnum):
    """What an operation does to a store; each needs at least one role."""

    READ = "read"  # see the store, its documents, search and chat
    EDIT = "edit"  # add and delete documents
    MANAGE = "manage"  # share, rename, export, change settings, delete the store

    @property
    def needs(self) -> Role:
        return {"read": Role.VIEWER, "edit": Role.EDITOR, "manage": Role.OWNER}[self.value]


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("utf-8")


def password_matches(password: str, hashed: str | None) -> bool:
    if not hashed or not password or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("utf-8"))
    except ValueError:  # not a bcrypt hash
        return False


def check_password_rules(password: str) -> None:
    if not password or not password.strip():
        raise InvalidInput("Choose a password; it cannot be empty.")
    if password != password.strip():  # the sign-in form drops them, so such a password could never be used
        raise InvalidInput("A password cannot start or end with a space; remove the spaces at its ends.")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"Choose a password of at least {MIN_PASSWORD_CHARS} characters.")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"Choose a shorter password: at most {MAX_PASSWORD_BYTES} bytes (bcrypt reads no further).")


def check_name(name: str, what: str) -> None:
    """Names shown in tables and terminals: 1-120 printable characters, no commas, no edge spaces."""
    if not name or not name.strip() or len(name) > 120 or name != name.strip():
        raise InvalidInput(f"A {what} name must be 1 to 120 characters with no leading or trailing spaces.")
    if "," in name:
        raise InvalidInput(f"A {what} name may not contain a comma.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise InvalidInput(f"A {what} name may not contain control characters such as line breaks.")


def acting(user: User | None, name: str) -> User:
    """The user an operation acts as: refused when unknown or disabled (an empty name is nobody)."""
    if user is None or not name:
        raise PermissionDenied("Sign in first: no user is acting.")
    if user.disabled:
        raise PermissionDenied(f"The account '{user.name}' is disabled; ask an administrator.")
    return user


def require_admin(user: User, doing: str = "manage users") -> None:
    if not user.is_admin:
        raise PermissionDenied(f"Only an administrator can {doing}.")


def role_on(user: User, store: Store, granted: Role | None) -> Role | None:
    """The one rule of roles: administrators and the store's owner own it; others have their grant, or nothing."""
    if user.is_admin or store.owner == user.name:
        return Role.OWNER
    return granted


def authorize(store: Store, role: Role | None, action: Action) -> Role:
    """The user's role if it allows the action; otherwise a refusal (a store you may not see does not exist)."""
    if role is None:
        raise StoreNotFound(missing_store(store.name))
    if role.rank < action.needs.rank:
        raise PermissionDenied(
            f"You may only {role.verb} '{store.name}'; ask its owner to make you {_article(action.needs)}."
        )
    return role


def missing_store(name: str) -> str:
    return f"There is no store named '{name}'."


def _article(role: Role) -> str:
    return {"viewer": "a viewer", "editor": "an editor", "owner": "an owner"}[role.value]


def failures_in_force(count: int, last: datetime | None, *, now: datetime | None = None) -> int:
    """Failed logins that still count: after LOCKOUT without another failure, the slate is clean."""
    if not count or last is None:
        return 0
    return count if (now or datetime.now(UTC)) - last < LOCKOUT else 0


def cookie_key(configured: str, data_dir: Path) -> str:
    """The key that signs login cookies: the configured one, else one generated once and kept in the data
    directory (readable by its owner only). Never a default baked into the code."""
    if configured:
        return configured
    path = data_dir / "cookie.key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key
