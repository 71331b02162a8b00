"""Provider keys saved from the Models page, sealed (Fernet: AES-128-CBC + HMAC-SHA256) with a key that is never
in the catalog: WORKBENCH_SECRETS_KEY, else derived from the cookie key (WORKBENCH_COOKIE_KEY, or the one generated
into the data folder). Every replica of a deployment is given the same one; a catalog copied without it holds
nothing usable."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from core import redact
from core.errors import InvalidInput

CONTEXT = b"rag-workbench model keys v1"  # so that the cookie key, reused here, never signs and seals alike
PREFIX_CHARS = 6  # of a saved key, kept in the clear and shown ("sk-pro…"): enough to tell keys apart


class Vault:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise InvalidInput("Saving provider keys needs WORKBENCH_SECRETS_KEY (or WORKBENCH_COOKIE_KEY) to be set.")
        derived = hashlib.sha256(CONTEXT + secret.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: str) -> str:
        redact.remember([value])  # from now on blanked wherever it might be echoed
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, sealed: str, *, what: str) -> str:
        try:
            value = self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise InvalidInput(
                f"The saved key of {what} cannot be read with this server's secrets key (WORKBENCH_SECRETS_KEY or "
                "WORKBENCH_COOKIE_KEY changed, or differs between machines); enter the key again on the Models page."
            ) from exc
        redact.remember([value])
        return value


def prefix(value: str) -> str:
    """What is shown of a saved key: its first characters (at most a quarter of it), never enough to use it."""
    if not value:
        return ""
    shown = min(PREFIX_CHARS, len(value) // 4)
    return value[:shown] + "…" if shown >= 3 else "•••"
