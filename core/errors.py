"""Errors meant for the user: each message is a plain sentence that says what to do."""


class WorkbenchError(Exception):
    """An error whose message is shown to the user as it is."""


class NotFound(WorkbenchError):
    """A store, document or user that does not exist (or that the user may not see)."""


class StoreNotFound(NotFound):
    """A store that does not exist for this user (each front end may say where to see the stores)."""


class AlreadyExists(WorkbenchError):
    """A name that is already taken."""


class PermissionDenied(WorkbenchError):
    """The user may not do this."""


class InvalidInput(WorkbenchError):
    """A value outside what the product accepts."""


class UnsupportedFileType(WorkbenchError):
    """A file whose type we cannot read."""


class ParseError(WorkbenchError):
    """A file that could not be turned into text."""


class EmbeddingMismatch(WorkbenchError):
    """A store queried or written with another embedding model than the one it was built with."""


class ModelError(WorkbenchError):
    """A model call that failed (missing key, provider error, bad response)."""


class BackendUnavailable(WorkbenchError):
    """A vector-store backend that is unknown, not installed or not reachable."""


class CatalogUnavailable(BackendUnavailable):
    """The catalog database cannot be reached or written (its server stopped, its disk is full)."""


DISK_FULL = "the disk holding the store's data is full; free some space and add the file again"


def disk_full(exc: BaseException) -> bool:
    """Whether a failure (an OSError, or a native library's error text) says the disk is full."""
    if isinstance(exc, OSError) and exc.errno == 28:  # ENOSPC
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "os error 28" in text or "disk is full" in text  # SQLite's


class NotSignedIn(WorkbenchError):
    """No valid credentials: a missing, unknown, revoked or expired API key."""


class TooLarge(InvalidInput):
    """A file or request over a size limit."""


class RateLimited(WorkbenchError):
    """Too many requests in a short time; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OverLimit(WorkbenchError):
    """A store's token limit or budget refused work before a model was called (an upload stops there)."""
