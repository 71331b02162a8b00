"""Personal data kept from remote models: e-mail addresses, phone numbers, card numbers, IBANs and national
identifiers are replaced by a label ("[email]", "[phone]", ...) in every text sent to a remote model, for the
stores that ask for it. The bundled local models are exempt: nothing they read leaves the machine.

Finding is done by well-kept libraries that work offline: `phonenumbers` (Google's libphonenumber) finds phone
numbers in running text, and `python-stdnum` checks every candidate card number (Luhn and the issuer's
prefix), IBAN (country format and mod-97) and national identifier (its own check digits); the short patterns
here only propose candidates, so that a figure in a filing is not taken for a card number.

The policy is the operation's, not the call's: a store operation (a search, an answer, an ingest) opens
`scope(on=...)` around the work it drives, and `core.llm`, the one place text leaves for a model, asks
`outgoing` at the moment it builds each request. A scope is a context variable, so a background thread (the
chat runner, the ingest worker) opens its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import phonenumbers
from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.us import ssn

KINDS = ("email", "phone", "card", "iban", "national_id")
PHONE_REGION = "US"  # how numbers without a +country prefix are read

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
CARD = re.compile(  # unbroken, or in the groups printed on cards (4-4-4-4.., Amex 4-6-5): not a row of figures
    r"(?<![\d-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})(?![\d-])"
)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
CARD_PREFIXES = re.compile(r"^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01])|3[47]|3[5]|6(?:011|5|4[4-9])|62)")
NATIONAL: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), ssn.is_valid),  # US social security number
    (re.compile(r"\b[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}\b"), nir.is_valid),  # French NIR
    (re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b"), codicefiscale.is_valid),  # Italian codice fiscale
    (re.compile(r"\b\d{8}-?[A-Z]\b"), dni.is_valid),  # Spanish DNI
    (re.compile(r"\b[XYZ]-?\d{7}-?[A-Z]\b"), nie.is_valid),  # Spanish NIE
    (re.compile(r"\b\d{11}\b"), idnr.is_valid),  # German tax identification number (unbroken)
)


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int


def find(text: str, *, region: str = PHONE_REGION) -> list[Found]:
    """Personal data in a text, as non-overlapping spans (the first kind to claim characters keeps them)."""
    found: list[Found] = [Found("email", m.start(), m.end()) for m in EMAIL.finditer(text)]
    found += [Found("iban", m.start(), m.end()) for m in IBAN.finditer(text) if iban.is_valid(m.group())]
    for pattern, valid in NATIONAL:
        found += [Found("national_id", m.start(), m.end()) for m in pattern.finditer(text) if valid(m.group())]
    found += [Found("card", m.start(), m.end()) for m in CARD.finditer(text) if _card(m.group())]
    grouped = phonenumbers.Leniency.EXACT_GROUPING  # written as numbers are: not a figure in a table
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=grouped):
        if not match.raw_string.isdigit():  # ten bare digits are as likely an amount as a number to call
            found.append(Found("phone", match.start, match.end))
    kept: list[Found] = []
    for item in found:  # in the order above: an IBAN's digits are not also a phone number
        if all(item.end <= k.start or item.start >= k.end for k in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f.start)


def redact(text: str, *, region: str = PHONE_REGION) -> tuple[str, Counter[str]]:
    """The text with each piece of personal data replaced by its label, and how many of each kind."""
    counts: Counter[str] = Counter()
    parts, at = [], 0
    for item in find(text, region=region):
        parts += [text[at : item.start], f"[{item.kind}]"]
        counts[item.kind] += 1
        at = item.end
    return "".join([*parts, text[at:]]), counts


def _card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and bool(CARD_PREFIXES.match(digits)) and luhn.is_valid(digits)


@dataclass(frozen=True)
class Policy:
    """One operation's rule for text leaving for remote models (what was redacted travels with each response)."""

    on: bool
    region: str = PHONE_REGION


_policy: ContextVar[Policy | None] = ContextVar("workbench_privacy_policy", default=None)


@contextmanager
def scope(*, on: bool, region: str = PHONE_REGION) -> Iterator[Policy]:
    """Within it, texts sent to remote models are redacted when `on` (an inner scope wins while it lasts)."""
    policy = Policy(on=on, region=region)
    token = _policy.set(policy)
    try:
        yield policy
    finally:
        _policy.reset(token)


def scoped(stream: Iterator[str], *, on: bool) -> Generator[str, None, None]:
    """A lazy stream (a chat answer) that runs each step inside its own scope, whichever thread drives it."""
    return stepped(stream, lambda: scope(on=on))


def stepped(stream: Iterator[str], enter: Callable[[], AbstractContextManager[object]]) -> Generator[str, None, None]:
    """A lazy stream whose every step (and its closing) runs inside `enter()`: a context variable set by the thread
    that drives it, step by step (the privacy scope here, the quota meter in core.quota)."""
    try:
        while True:
            with enter():
                try:
                    piece = next(stream)
                except StopIteration:
                    return
            yield piece
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            with enter():
                close()  # stopped midway: the answer so far is saved by the stream's own cleanup


def outgoing(texts: Sequence[str], *, local: bool) -> tuple[list[str], dict[str, int]]:
    """The texts as they may leave for a model, and the counts of what was redacted (none for local models)."""
    policy = _policy.get()
    if local or policy is None or not policy.on:
        return list(texts), {}
    total: Counter[str] = Counter()
    cleaned = []
    for text in texts:
        redacted, counts = redact(text, region=policy.region)
        cleaned.append(redacted)
        total.update(counts)
    return cleaned, dict(total)


def outgoing_messages(messages: Sequence[Mapping[str, Any]], *, local: bool) -> tuple[list[dict], dict[str, int]]:
    """Chat messages as they may leave: the text of each (plain, or the text parts of a multi-part message)."""
    total: Counter[str] = Counter()

    def clean(text: str) -> str:
        [sent], counts = outgoing([text], local=local)
        total.update(counts)
        return sent

    cleaned = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            content = clean(content)
        elif isinstance(content, list):  # text parts and image parts (images go as they are)
            content = [
                {**part, "text": clean(part["text"])}
                if isinstance(part, dict) and isinstance(part.get("text"), str)
                else part
                for part in content
            ]
        cleaned.append({**message, "content": content} if "content" in message else dict(message))
    return cleaned, dict(total)
