"""The period picker the Usage and Audit pages share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

PERIODS = {"24 hours": timedelta(hours=24), "7 days": timedelta(days=7), "30 days": timedelta(days=30), "All": None}
DEFAULT = "7 days"


def since(container: Any, key: str) -> datetime | None:
    """A "Period" control in `container` (the page, or a column); the start of the chosen period (None: all)."""
    chosen = container.segmented_control("Period", list(PERIODS), default=DEFAULT, key=key) or DEFAULT
    span = PERIODS[chosen]
    return datetime.now(UTC) - span if span else None
