"""A store's governance policy: the injection check on questions and passages, the safety filter on answers, token
limits and spending budgets. Administrators set every part; a store's owner sets the checks on their own data (the
injection check and the safety filter), not the limits and budgets that protect the deployment's models and money.

Defaults: the injection check blocks at 0.7, the safety filter flags, and nothing is limited.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta

from core.errors import InvalidInput
from core.injection import DEFAULT_THRESHOLD

log = logging.getLogger(__name__)

MODES = ("off", "flag", "block")
OWNER_FIELDS = frozenset({"injection", "injection_threshold", "safety"})
MAX_TOKENS = 10**12
MAX_BUDGET = 10**9
LABELS = {
    "injection": "Injection check (questions and passages)",
    "injection_threshold": "Injection threshold",
    "safety": "Safety filter on answers",
    "tokens_per_request": "Tokens per request",
    "tokens_per_day_user": "Tokens a day, per user",
    "tokens_per_day_key": "Tokens a day, per API key",
    "tokens_per_ingest": "Tokens per upload (embedding)",
    "budget_per_month_user": "Spending a month, per user (USD)",
    "budget_per_month_key": "Spending a month, per API key (USD)",
}


@dataclass(frozen=True)
class StorePolicy:
    """0 for a limit or budget means none."""

    injection: str = "block"
    injection_threshold: float = DEFAULT_THRESHOLD
    safety: str = "flag"
    tokens_per_request: int = 0
    tokens_per_day_user: int = 0
    tokens_per_day_key: int = 0
    tokens_per_ingest: int = 0
    budget_per_month_user: float = 0.0
    budget_per_month_key: float = 0.0

    @classmethod
    def of(cls, record: object) -> StorePolicy:
        """The policy saved with a store (what it does not say: the default). A damaged record keeps every part that
        still reads, and the default for each part that does not (logged), so a store is never left unchecked."""
        policy = cls()
        if not isinstance(record, Mapping):
            if record:
                log.warning("a store's policy record is not an object; its defaults apply")
            return policy
        for name in (f.name for f in fields(cls)):
            if name not in record:
                continue
            try:
                policy = changed(policy, {name: record[name]})
            except (InvalidInput, TypeError, ValueError):
                log.warning("a store's policy has a damaged %s (%r); its default applies", name, record[name])
        return policy

    def record(self) -> dict[str, object]:
        return asdict(self)

    @property
    def limits_tokens(self) -> bool:
        return bool(self.tokens_per_request or self.tokens_per_day_user or self.tokens_per_day_key)

    @property
    def budgeted(self) -> bool:
        return bool(self.budget_per_month_user or self.budget_per_month_key)

    def shown(self) -> list[tuple[str, str]]:
        """(label, value in words) for each part, as the Stores page and the command line show them."""
        out = []
        for name, label in LABELS.items():
            value = getattr(self, name)
            if name.startswith("tokens"):
                text = f"{value:,}" if value else "no limit"
            elif name.startswith("budget"):
                text = f"${value:,.2f}" if value else "no budget"
            elif name == "injection_threshold":
                text = f"{value:.2f}"
            else:
                text = value
            out.append((label, str(text)))
        return out


def changed(policy: StorePolicy, changes: Mapping[str, object]) -> StorePolicy:
    """The policy with some parts changed, each checked; unknown parts and bad values refused in words."""
    known = {f.name for f in fields(StorePolicy)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidInput(f"A store policy has no part named {', '.join(unknown)}. Parts: {', '.join(sorted(known))}.")
    values: dict[str, object] = {}
    for name, value in changes.items():
        if name in ("injection", "safety"):
            values[name] = str(value).strip().lower()
        elif name.startswith("tokens"):
            values[name] = _number(name, value, int)
        else:
            values[name] = _number(name, value, float)
    return checked(replace(policy, **values))  # type: ignore[arg-type]


def checked(policy: StorePolicy) -> StorePolicy:
    for name in ("injection", "safety"):
        if getattr(policy, name) not in MODES:
            raise InvalidInput(f"{LABELS[name]} is off, flag or block, not '{getattr(policy, name)}'.")
    if not 0.05 <= policy.injection_threshold <= 1.0:
        raise InvalidInput(f"The injection threshold is between 0.05 and 1, not {policy.injection_threshold}.")
    for f in fields(policy):
        value = getattr(policy, f.name)
        if f.name.startswith("tokens") and not 0 <= value <= MAX_TOKENS:
            raise InvalidInput(f"{LABELS[f.name]} is a whole number from 0 (no limit) to {MAX_TOKENS:,}, not {value}.")
        if f.name.startswith("budget") and not (math.isfinite(value) and 0 <= value <= MAX_BUDGET):
            raise InvalidInput(f"{LABELS[f.name]} is an amount from 0 (no budget) to {MAX_BUDGET:,}, not {value}.")
    return policy


def _number(name: str, value: object, kind: type) -> int | float:
    text = str(value).strip().replace(",", "").replace("_", "").lstrip("$")
    try:
        number = float(text)
    except ValueError:
        raise InvalidInput(f"{LABELS[name]} must be a number, not '{value}'.") from None
    if kind is int:
        if not math.isfinite(number) or number != int(number):
            raise InvalidInput(f"{LABELS[name]} must be a whole number of tokens, not '{value}'.")
        return int(number)
    return number


# the periods limits count in: a day and a month in UTC, the same on every machine


def day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def month(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def resets(period: str, at: datetime) -> datetime:
    """When a day's or a month's count starts again."""
    at = at.astimezone(UTC)
    if len(period) == 10:
        return datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
