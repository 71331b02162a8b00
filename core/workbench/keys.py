"""API keys: users make, name, list and revoke their own; administrators see and revoke anyone's.

A key is shown once, when it is made; the catalog keeps its SHA-256 (a key is 32 random bytes, so a plain
hash is enough: there is nothing to guess) and its first characters, to tell keys apart."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from core import access
from core.access import check_name
from core.catalog import new_id, now
from core.errors import InvalidInput, NotFound, NotSignedIn
from core.ratelimit import RateLimit
from core.records import Actor, ApiKey, Channel, NewKey
from core.workbench.services import Services

log = logging.getLogger(__name__)

KEY_START = "rwk_"  # so a leaked key is recognised for what it is (secret scanners match such prefixes)
PREFIX_CHARS = 12  # of the key, kept and shown: "rwk_3fA9..."
MAX_EXPIRY_DAYS = 3650


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Keys:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog
        self._rate = RateLimit(services.settings.api_rate_per_minute, services.catalog)

    def create(self, actor: Actor, name: str = "", *, expires_days: int | None = None) -> NewKey:
        """A new key for the acting user: the secret is in the result and nowhere else."""
        label = name.strip() or f"key {now():%Y-%m-%d %H:%M}"
        check_name(label, "key")
        if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(f"A key expires after 1 to {MAX_EXPIRY_DAYS} days, not {expires_days}.")
        secret = KEY_START + secrets.token_urlsafe(32)
        created = now()
        key = ApiKey(
            id="key_" + new_id()[:16],
            user=actor.name,
            name=label,
            prefix=secret[:PREFIX_CHARS],
            created_at=created,
            expires_at=created + timedelta(days=expires_days) if expires_days else None,
        )
        self._catalog.add_key(key, digest(secret))
        log.info("%s created API key %s (%s)", actor.name, key.id, key.prefix)
        return NewKey(key, secret)

    def mine(self, actor: Actor) -> list[ApiKey]:
        return self._catalog.keys(actor.name)

    def all(self, actor: Actor) -> list[ApiKey]:
        """Everyone's keys (administrators)."""
        access.require_admin(actor.user, "see everyone's API keys")
        return self._catalog.keys()

    def revoke(self, actor: Actor, key_id: str) -> ApiKey:
        """Stop a key at once: its own user or an administrator; another user's key does not exist for them."""
        try:
            key = self._catalog.get_key(key_id)
        except NotFound:
            key = None
        if key is None or (key.user != actor.name and not actor.is_admin):
            raise NotFound(f"There is no such API key: '{key_id}'.")
        self._catalog.revoke_key(key.id)
        log.info("%s revoked API key %s of %s", actor.name, key.id, key.user)
        return self._catalog.get_key(key.id)

    def authenticate(self, secret: str, channel: Channel = Channel.API) -> Actor:
        """The user a key acts as, checked now: an unknown, revoked or expired key, or a disabled user, is refused."""
        if not secret:
            raise NotSignedIn("Send an API key: 'Authorization: Bearer <key>' (make one on the Account page).")
        key = self._catalog.key_by_hash(digest(secret.strip()))
        if key is None:
            raise NotSignedIn("That API key is not valid. Check it, or make a new one on the Account page.")
        state = key.state(now())
        if state == "revoked":
            raise NotSignedIn(f"The API key {key.prefix}… was revoked. Make a new one on the Account page.")
        if state == "expired":
            raise NotSignedIn(f"The API key {key.prefix}… expired. Make a new one on the Account page.")
        actor = self._s.actor(key.user, channel, key_id=key.id)  # a disabled user is refused here
        self._rate.take(key.id)
        self._catalog.key_used(key)
        return actor
