"""Users: accounts and passwords (administrators), signing in, and browser sessions that end when they should.

Signing in counts each try per typed name in one atomic catalog update before the password is checked, so
parallel tries cannot outrun the lockout, and an unknown name costs the same bcrypt check and gets the same
answers as a known one. A browser session is a signed token with the time it began; it holds only while that
time is after the user's `sessions_valid_after`, which signing out, a new password, disabling and a change of
role move to now (every browser of that user then signs in again).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from core import access
from core.errors import InvalidInput, PermissionDenied, WorkbenchError
from core.records import Actor, Channel, Session, User
from core.workbench.services import Services

MAX_TYPED_NAME = 200  # the longest typed name counted as itself (longer ones are counted by their start)


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
            if actor.user.has_password:  # a guess here counts as a sign-in try (a stolen session cannot guess on)
                self._count_try(name)
                if not access.password_matches(current or "", hashed):
                    raise PermissionDenied("Your current password is not right; nothing was changed.")
        self._catalog.get_user(name)
        updated = self._catalog.update_user(name, password_hash=access.hash_password(password))
        self._catalog.clear_sign_in_failures(name)  # a new password unlocks the account
        self._catalog.end_sessions(name)  # every browser signed in with the old one signs in again
        return updated

    def set_admin(self, actor: Actor, name: str, admin: bool) -> User:
        access.require_admin(actor.user)
        target = self._catalog.get_user(name)
        if target.is_admin and not admin and not self._other_admins(name):
            raise PermissionDenied(f"'{name}' is the last administrator; make someone else an administrator first.")
        if target.is_admin != admin:
            self._catalog.end_sessions(name)  # open tabs built with the old role (its menu, its buttons) end
        return self._catalog.update_user(name, is_admin=admin)

    def set_disabled(self, actor: Actor, name: str, disabled: bool) -> User:
        """A disabled user can do nothing and cannot log in; their stores and documents stay."""
        access.require_admin(actor.user)
        if disabled and name == actor.name:
            raise PermissionDenied("You cannot disable your own account.")
        target = self._catalog.get_user(name)
        if disabled and target.is_admin and not self._other_admins(name):
            raise PermissionDenied(f"'{name}' is the last administrator and cannot be disabled.")
        self._catalog.end_sessions(name)  # re-enabling does not bring back a session from before
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

    def sign_in(self, name: str, password: str) -> Session:
        """A new browser session for a name and password as typed (the name is trimmed and lowercased; the
        password is taken as typed). Refused with the same sentences whether or not the name exists."""
        typed = name.strip().lower()
        if not typed or not password:
            raise InvalidInput("Type your user name and your password.")
        counted = typed[:MAX_TYPED_NAME]
        tries = self._count_try(counted)
        started = datetime.now(UTC)  # before the hash is read: a reset during the check ends this session too
        hashed = self._catalog.password_hash(typed)  # None for an unknown name: the stand-in costs the same
        if hashed and access.password_matches(password, hashed):
            user = self._catalog.get_user(typed)
            if user.disabled:
                raise PermissionDenied(f"The account '{user.name}' is disabled; ask an administrator.")
            self._catalog.clear_sign_in_failures(counted)
            return self._session(user.name, started)
        if not hashed:
            access.password_matches(password, access.stand_in_hash())
        raise PermissionDenied(access.LOCKED_OUT if tries == access.MAX_LOGIN_FAILURES else access.WRONG_SIGN_IN)

    def resume(self, token: str) -> Session | None:
        """The session a login cookie still holds: None when the token is forged, foreign or expired, or the
        user is gone, disabled or has signed out (or changed password, or role) since it was issued."""
        claims = access.session_claims(token, key=self.cookie_key())
        if claims is None:
            return None
        name, started = claims
        try:
            self._s.actor(name, Channel.APP, since=started)
        except WorkbenchError:
            return None
        return Session(name=name, started_at=started, token=token)

    def renew(self, actor: Actor) -> Session:
        """A fresh session for the acting user (after they changed their own password, which ended the others)."""
        return self._session(actor.name, datetime.now(UTC))

    def sign_out(self, actor: Actor) -> None:
        """End every browser session of the acting user: copies of their login cookie no longer sign in."""
        self._catalog.end_sessions(actor.name)

    def failed_sign_ins(self, name: str) -> int:
        """The sign-in tries counted against a name that are still in force (after LOCKOUT, none)."""
        return self._catalog.sign_in_failures(name[:MAX_TYPED_NAME], window=access.LOCKOUT)

    def _count_try(self, name: str) -> int:
        """Count one password try against a name (atomically) and refuse it once past the lockout; the tries."""
        tries = self._catalog.count_sign_in(name, window=access.LOCKOUT)
        if tries > access.MAX_LOGIN_FAILURES:
            raise PermissionDenied(access.LOCKED_OUT)
        return tries

    def _session(self, name: str, started: datetime) -> Session:
        return Session(name=name, started_at=started, token=access.session_token(name, started, key=self.cookie_key()))

    @functools.cached_property
    def _cookie_key(self) -> str:  # read (or made) once: every page load that brings a cookie checks it
        return access.cookie_key(self._s.settings.cookie_key, self._s.settings.data_dir)

    def cookie_key(self) -> str:
        return self._cookie_key
