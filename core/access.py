"""Who may do what: passwords, the acting user, and the one check every store operation makes.

Passwords are bcrypt hashes made exactly as streamlit-authenticator makes them (`bcrypt.hashpw` with a fresh
salt, stored as text), so a hash written by core logs in through the login page and the other way round.
A store a user may not see does not exist for them: refusals then read like a missing store.
"""

from __future__ import annotations

import enum
import functools
import os
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import jwt

from core.errors import InvalidInput, NotSignedIn, PermissionDenied, StoreNotFound
from core.records import Role, Store, User

MAX_LOGIN_FAILURES = 5  # sign-in tries in a row per typed name before it waits LOCKOUT (known name or not)
LOCKOUT = timedelta(minutes=15)
SESSION_LENGTH = timedelta(days=7)  # how long a sign-in lasts in a browser without signing in again
WRONG_SIGN_IN = "Wrong user name or password."
LOCKED_OUT = "Too many failed sign-ins; wait 15 minutes or ask an administrator for a new password."
SESSION_ENDED = "Your session has ended (signed out, or your password or account changed); sign in again."
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


@functools.cache
def stand_in_hash() -> str:
    """A hash no password matches, made at the accounts' cost: an unknown name costs the same check as a known one."""
    return bcrypt.hashpw(secrets.token_hex(16).encode("ascii"), bcrypt.gensalt()).decode("utf-8")


def session_token(name: str, started: datetime, *, key: str) -> str:
    """The signed token a browser's login cookie holds: who, since when (checked against the user's
    `sessions_valid_after` on every run) and until when."""
    claims = {"username": name, "started": started.timestamp(), "exp": started + SESSION_LENGTH}
    return jwt.encode(claims, key, algorithm="HS256")


def session_claims(token: str, *, key: str) -> tuple[str, datetime] | None:
    """Who a token signs in and when it was issued; None when forged, foreign, expired or malformed."""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})
        return str(claims["username"]), datetime.fromtimestamp(float(claims["started"]), UTC)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError):
        return None


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


def acting(user: User | None, name: str, *, since: datetime | None = None) -> User:
    """The user an operation acts as: refused when unknown or disabled (an empty name is nobody), and for a
    browser session begun at `since`, once the user's sessions have ended after it."""
    if user is None or not name:
        raise PermissionDenied("Sign in first: no user is acting.")
    if user.disabled:
        raise PermissionDenied(f"The account '{user.name}' is disabled; ask an administrator.")
    if since is not None and user.sessions_valid_after is not None and since < user.sessions_valid_after:
        raise NotSignedIn(SESSION_ENDED)
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


def cookie_key(configured: str, data_dir: Path) -> str:
    """The key that signs login cookies: the configured one, else one generated once and kept in the data
    directory (readable by its owner only). Never a default baked into the code."""
    if configured:
        return configured
    path = data_dir / "cookie.key"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        made = path.with_name(f"cookie.key.{secrets.token_hex(4)}")  # written whole, then put in place at once
        made.touch(mode=0o600)
        made.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        try:
            os.link(made, path)  # the first process to start wins; the others read its key
        except FileExistsError:
            pass
        finally:
            made.unlink()
    return path.read_text(encoding="utf-8").strip()
