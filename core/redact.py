"""Secrets never leave the process as text. Every error message that is logged, stored or shown passes through
`redact`, which blanks the secret values the workbench knows (provider keys from the environment, the model
list and secrets.toml, the Milvus token, the database password) and anything shaped like a bearer token or an
`sk-` key, whoever echoed it (a misconfigured proxy puts the Authorization header in its error text)."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable

MASK = "[redacted]"
MIN_LENGTH = 6  # shorter values ("local", "true") are not secrets and would blank ordinary words
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
SHAPES = (
    re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]{4,}"),
    re.compile(r"(?i)(\bBasic\s+)[A-Za-z0-9+/=]{8,}"),
    re.compile(r"()\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-api-key|token|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]{4,}"),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(?=@)"),  # the password in a URL such as postgresql://user:pw@host
)

_known: set[str] = set()
_lock = threading.Lock()


def remember(values: Iterable[object]) -> None:
    """Add secret values to blank from now on (strings of at least MIN_LENGTH characters)."""
    with _lock:
        _known.update(v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_LENGTH)


def _environment_secrets() -> set[str]:
    return {
        value.strip()
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and len(value.strip()) >= MIN_LENGTH
    }


def redact(text: str) -> str:
    """The text with every known secret value and token-shaped string replaced by MASK."""
    if not text:
        return text
    with _lock:
        values = _known | _environment_secrets()
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    for shape in SHAPES:
        text = shape.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)


def install_log_redaction() -> None:
    """Redact every log record of the process as it is made, whichever handler (ours, Streamlit's) writes it."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except Exception:  # a record whose arguments do not format: leave it to the handler's own error path
            return record
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    redacting_factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
