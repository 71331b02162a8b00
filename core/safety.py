"""The safety filter on answers: a rule set that works offline, and a provider's moderation model through LiteLLM
when one is configured (`WORKBENCH_MODERATION_MODEL`, for example `openai/omni-moderation-latest`).

No moderation model ships with the product, so offline the filter is a documented rule set. What it catches, in an
answer written by a model or quoted from the documents:
- secrets: provider keys (`sk-...`, AWS `AKIA...`, GitHub `ghp_...`), private keys, bearer tokens, passwords and
  the keys this deployment knows (the same shapes `core.redact` blanks in logs);
- payment redirection: the reader told to wire, transfer or send money to an account, IBAN or wallet;
- credential phishing: the reader told to send or enter their password, login, PIN or card number;
- instructions for weapons or drugs of mass harm (explosives, nerve agents, ricin, methamphetamine);
- encouragement of self-harm.
What it cannot catch: hate, harassment, sexual content, misinformation, advice that is harmful only in context,
and any of the above in other languages or in words the rules do not name; a moderation model covers those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core import llm, redact

RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "payment redirection",
        re.compile(
            r"(?:^|[.!?:]\s+|\b(?:please|you (?:should|must|need to|have to)|be sure to|make sure to)\s+)"
            r"(?:wire|transfer|send|pay|deposit|remit)\b[^.!?]{0,80}?\b(?:to|into)\b[^.!?]{0,60}?"
            r"\b(?:account|iban|wallet|bitcoin|btc|crypto\w*|routing number|sort code)\b",
            re.I | re.M,
        ),
    ),
    (
        "credential phishing",
        re.compile(
            r"\b(?:send|enter|provide|share|confirm|verify|submit|e-?mail)\b[^.!?]{0,30}\b(?:your|their)\s+"
            r"(?:password|passcode|login(?: details| credentials)?|credentials|pin|card number|security code|"
            r"social security number|one-time code)\b",
            re.I,
        ),
    ),
    (
        "weapons or drugs of mass harm",
        re.compile(
            r"\b(?:how to|steps to|instructions (?:for|to)|recipe for|guide to)\s+(?:make|build|synthesi[sz]e|"
            r"assemble|produce|cook)\s+(?:a |an |some )?(?:\w+\s+)?(?:bomb|explosives?|nerve agent|sarin|vx|ricin|"
            r"anthrax|methamphetamine|meth|napalm|thermite)\b",
            re.I,
        ),
    ),
    (
        "encouragement of self-harm",
        re.compile(r"\b(?:kill|hurt|harm|cut) yourself\b|\byou should (?:die|end your life)\b", re.I),
    ),
)
SECRET = "a secret (a key, token or password)"
KEYS = re.compile(r"\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True)
class Verdict:
    """Whether an answer breaks the rules, which one, the words that show it, and who judged (rules or a model)."""

    flagged: bool = False
    category: str = ""
    evidence: str = ""
    by: str = "rules"


Moderate = Callable[[str], "Verdict"]


def check(text: str, *, moderate: Moderate | None = None) -> Verdict:
    """The rule set, then the moderation model if one is configured; the first that flags decides."""
    for category, pattern in RULES:
        if (m := pattern.search(text)) is not None:
            return Verdict(True, category, _quote(text, m.start(), m.end()))
    if (m := KEYS.search(text)) is not None or redact.redact(text) != text:
        where = m.start() if m is not None else _first_change(text, redact.redact(text))
        return Verdict(True, SECRET, redact.redact(_quote(text, where, where + 1)))
    if moderate is not None:
        return moderate(text)
    return Verdict()


@dataclass(frozen=True)
class Filter:
    """The safety filter of one answer: `flag` lets a flagged answer through with a note, `block` replaces it."""

    mode: str
    moderate: Moderate | None = None
    on_flag: Callable[[Verdict], None] | None = None

    @property
    def blocks(self) -> bool:
        return self.mode == "block"

    def judge(self, text: str) -> Verdict:
        verdict = check(text, moderate=self.moderate)
        if verdict.flagged and self.on_flag is not None:
            self.on_flag(verdict)
        return verdict


def moderation(name: str, target: str, params: Mapping[str, Any]) -> Moderate:
    """A configured moderation model as the filter's second judge (through LiteLLM, as every model call)."""

    def moderate(text: str) -> Verdict:
        flagged, categories = llm.moderate(target, text, params=params)
        return (
            Verdict(True, ", ".join(categories) or "flagged by the moderation model", "", by=name)
            if flagged
            else Verdict(by=name)
        )

    return moderate


def _first_change(before: str, after: str) -> int:
    return next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), 0)


def _quote(text: str, start: int, end: int, *, room: int = 40) -> str:
    left, right = max(0, start - room), min(len(text), end + room)
    return ("…" if left else "") + " ".join(text[left:right].split()) + ("…" if right < len(text) else "")
