"""Is an answer grounded in its sources? Deterministic and fast: no model call.

- Every figure the answer states (amounts, percentages, years, numbers with their scale words) must appear in a
  source. `1,577`, `1577`, `(1,577)`, `$1,577 million`, `$1.6 billion` and `1.58bn` name the same amount when a
  source holds 1,577 (in millions): a figure matches when it equals a source figure at some scale (thousands,
  millions, billions), within the rounding of the way the answer writes it.
- Every sentence that makes a claim must carry a citation whose source holds it, or repeat a source's own words.
- A citation counts only when its source holds the figures of the sentence that cites it (or, without figures,
  shares its words).
Bare whole numbers below 10 with no unit are not checked (counting words: "two segments", "3 risks").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core import computed

CITATION = re.compile(r"\s*\[(\d{1,3})\]")
LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s+", re.M)
FIGURE = re.compile(
    r"(?<![\w.,])(?P<open>\()?(?P<currency>(?:US)?\$|€|£|¥|(?:USD|EUR|GBP)\s?)?"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\)?"
    r"(?:\s?(?P<unit>%|percent\b|per\s?cent\b|trillion\b|tn\b|billion\b|bn\b|b\b|million\b|mn\b|mm\b|m\b|"
    r"thousand\b|k\b))?",
    re.IGNORECASE,
)
SCALE = {"trillion": 1e12, "tn": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9, "million": 1e6, "mn": 1e6, "mm": 1e6}
SCALE |= {"m": 1e6, "thousand": 1e3, "k": 1e3}
UNKNOWN_UNITS = (1e3, 1e6, 1e9)  # a source number whose table unit is not in its text may be in any of these
UNITS = re.compile(
    r"\((?:\$|dollars|amounts|usd)?\s*(?:in\s+)?(thousands|millions|billions)\b|\bin (thousands|millions|billions)\b",
    re.IGNORECASE,
)
UNIT_SCALE = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
WORD = re.compile(r"[a-z][a-z0-9'-]{3,}")
STOP = frozenset(
    [
        "that",
        "this",
        "with",
        "from",
        "have",
        "were",
        "which",
        "their",
        "there",
        "about",
        "would",
        "could",
        "should",
        "these",
        "those",
        "than",
        "then",
        "them",
        "they",
        "been",
        "being",
        "into",
        "also",
        "other",
        "such",
        "only",
        "more",
        "most",
        "much",
        "some",
        "what",
        "when",
        "where",
        "while",
        "your",
        "does",
        "each",
        "over",
        "under",
        "after",
        "before",
        "between",
        "during",
        "answer",
        "question",
        "source",
        "sources",
        "document",
        "documents",
        "according",
    ]
)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])|\n+")
CLAIM_WORDS = 3  # a sentence with fewer content words (and no figure) makes no claim to check
MATCH_SHARE = 0.6  # an uncited sentence is matched to a source holding this share of its content words
CITED_SHARE = 0.3  # a cited sentence without figures: its source must hold this share of its content words
WORDS_ONLY = "(its words)"  # a cited sentence without figures whose source does not share its words
REFUSALS = ("do not say", "does not say", "could not find", "not in the documents", "no information", "not mention")


@dataclass(frozen=True)
class Figure:
    text: str  # as written
    raw: float  # the number as written, sign dropped
    step: float  # half a unit of its last written digit: the rounding it allows
    scale: float | None = None  # its own scale word (1.6 billion), or the unit its source declares (in millions)
    own_scale: bool = False  # the scale is written with the number itself
    percent: bool = False
    year: bool = False

    def found_in(self, others: Iterable[Figure]) -> bool:
        return any(self.matches(other) for other in others)

    def matches(self, source: Figure) -> bool:
        """Whether this figure of an answer states the source's figure (a percent only a percent or a fraction;
        an amount with a scale word only the source's amount at the source's own or declared scale)."""
        if self.year or source.year:
            return self.year == source.year and self.raw == source.raw
        slack = self.step + abs(self.raw) * 1e-9
        if self.percent:
            fraction = not source.percent and source.raw < 1
            return (source.percent and abs(self.raw - source.raw) <= slack) or (
                fraction and abs(self.raw - 100 * source.raw) <= slack
            )
        if not self.own_scale:
            return abs(self.raw - source.raw) <= slack
        amount, slack = self.raw * (self.scale or 1.0), slack * (self.scale or 1.0)
        scales = (source.scale,) if source.scale else UNKNOWN_UNITS
        return any(abs(amount - source.raw * k) <= slack for k in scales)


@dataclass(frozen=True)
class CitationCheck:
    n: int
    supported: bool  # its source holds what the sentences citing it say
    missing: tuple[str, ...] = ()  # the figures of those sentences that its source lacks


@dataclass(frozen=True)
class Grounding:
    grounded: bool
    figures: tuple[str, ...] = ()  # figures of the answer that no source holds
    sentences: tuple[str, ...] = ()  # claims that neither cite a source holding them nor repeat one
    citations: tuple[CitationCheck, ...] = ()
    computed: tuple[computed.Computation, ...] = ()  # figures the answer derives, each with its working, redone here

    @property
    def unsupported(self) -> tuple[str, ...]:
        return self.figures + self.sentences

    def summary(self) -> str:
        """One calm sentence for the analyst, or '' when everything is supported."""
        parts = []
        if self.figures:
            count = len(self.figures)
            shown = ", ".join(self.figures[:5]) + (", …" if count > 5 else "")
            parts.append(f"{count} figure{'s' * (count > 1)} in this answer {'do' if count > 1 else 'does'} not "
                         f"appear in the sources: {shown}.")  # fmt: skip
        if self.sentences:
            count = len(self.sentences)
            parts.append(f"{count} statement{'s' * (count > 1)} cite{'s' * (count == 1)} no source that holds it.")
        for c in self.computed:
            if not c.ok:
                parts.append(f"{c.describe()}.")
        wrong = [c.n for c in self.citations if not c.supported]
        if wrong:
            parts.append("Source " + ", ".join(f"[{n}]" for n in wrong) + " does not hold what cites it.")
        return " ".join(parts)

    def as_record(self) -> dict[str, object]:
        return {
            "grounded": self.grounded,
            "figures": list(self.figures),
            "sentences": list(self.sentences),
            "citations": [{"n": c.n, "supported": c.supported, "missing": list(c.missing)} for c in self.citations],
            "computed": [c.as_record() for c in self.computed],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> Grounding | None:
        if not record:
            return None
        citations = tuple(
            CitationCheck(int(c["n"]), bool(c["supported"]), tuple(c.get("missing", ()))) for c in record["citations"]
        )
        works = tuple(computed.Computation.from_record(c) for c in record.get("computed", ()))
        return cls(bool(record["grounded"]), tuple(record["figures"]), tuple(record["sentences"]), citations, works)


def figures(text: str, *, source: bool = False) -> list[Figure]:
    """The figures a text states, each once, in order (citation markers and list numbers are not figures). In a
    source, numbers without a scale word take the unit the text declares ("(in millions)"), if it declares one."""
    declared = UNITS.search(text) if source else None
    unit = UNIT_SCALE[(declared.group(1) or declared.group(2)).lower()] if declared else None
    text = LIST_NUMBER.sub(" ", CITATION.sub(" ", text))
    found: dict[str, Figure] = {}
    for match in FIGURE.finditer(text):
        figure = _figure(match, unit)
        if figure is not None and figure.text not in found:
            found[figure.text] = figure
    return list(found.values())


def _figure(match: re.Match[str], unit_scale: float | None = None) -> Figure | None:
    number, unit, currency = match["number"], (match["unit"] or "").lower().replace(" ", ""), match["currency"]
    digits = number.replace(",", "")
    value = float(digits)
    decimals = len(digits.partition(".")[2])
    percent = unit in ("%", "percent")
    if unit in ("m", "b", "k") and not currency:  # 3M, 10b, 5k: a name or a code unless it is money
        unit, text = "", match["number"]
    else:
        text = match.group(0).strip()
    if not unit and not currency and "." not in digits and "," not in number:
        if value < 10:
            return None  # a counting word, not a figure
        if 1900 <= value <= 2100 and len(digits) == 4:
            return Figure(digits, value, 0.0, year=True)
    text = text.rstrip(")") if not match["open"] else text
    own = unit in SCALE
    scale = SCALE[unit] if own else (None if percent else unit_scale)
    return Figure(text, value, 0.5 * 10 ** (-decimals), scale=scale, own_scale=own, percent=percent)


def check(answer: str, sources: Sequence[str], *, question: str = "") -> Grounding:
    """Check an answer against the texts of its numbered sources (sources[0] is [1])."""
    known = [figures(text, source=True) for text in sources]
    everywhere = [f for group in known for f in group]
    words = [set(content_words(text)) for text in sources]
    asked = set(content_words(question))
    works: list[computed.Computation] = []
    missing_figures: list[str] = []
    unsupported: list[str] = []
    uses: dict[int, list[str]] = {}
    for sentence in _sentences(answer):
        cited = sorted({int(n) for n in CITATION.findall(sentence) if 1 <= int(n) <= len(sources)})
        here = computed.verify(sentence, cited, known)  # a figure is excused only in the sentence that derives it
        works += here
        derived = {c.figure for c in here if c.ok} - {c.figure for c in here if not c.ok}
        missing_figures += [f.text for f in figures(sentence) if not f.found_in(everywhere) and f.text not in derived]
        plain = CITATION.sub("", sentence).strip()
        content = set(content_words(plain)) - asked
        if (not figures(plain) and len(content) < CLAIM_WORDS) or any(r in plain.lower() for r in REFUSALS):
            continue
        held = True
        for part, cited in _cited_parts(sentence, len(sources)):
            own, said = figures(part), set(content_words(part)) - asked
            if not cited:
                held = held and not own and len(said) < CLAIM_WORDS
                continue
            pool = [f for n in cited for f in known[n - 1]]
            lacking = [f.text for f in own if not f.found_in(pool) and f.text not in derived]
            shared = _share(said, set().union(*(words[n - 1] for n in cited)))
            ok = not lacking and (bool(own) or shared >= CITED_SHARE or len(said) < CLAIM_WORDS)
            held = held and ok
            for n in cited:  # each cited source must hold a part of it: a figure of it, or its words
                alone = any(f.found_in(known[n - 1]) for f in own) if own else _share(said, words[n - 1]) >= CITED_SHARE
                mine = (
                    [f.text for f in own if not f.found_in(known[n - 1]) and f.text not in derived] if not alone else []
                )
                uses.setdefault(n, []).extend(
                    lacking or mine or ([] if alone or len(said) < CLAIM_WORDS else [WORDS_ONLY])
                )
        repeated = any(_share(content, w) >= MATCH_SHARE for w in words)
        if not held and not (repeated and all(f.found_in(everywhere) or f.text in derived for f in figures(plain))):
            unsupported.append(_short(plain))
    checks = tuple(
        CitationCheck(n, not lacking, tuple(dict.fromkeys(x for x in lacking if x != WORDS_ONLY)))
        for n, lacking in sorted(uses.items())
    )
    missing_figures = list(dict.fromkeys(missing_figures))
    grounded = not missing_figures and not unsupported and all(c.supported for c in checks)
    grounded = grounded and all(c.ok for c in works)
    return Grounding(grounded, tuple(missing_figures), tuple(unsupported), checks, tuple(works))


def _cited_parts(sentence: str, count: int) -> list[tuple[str, list[int]]]:
    """The sentence cut after each citation: each part with the sources cited at its end ([1][2] together);
    text after the last citation belongs to it, a sentence without one is one uncited part."""
    parts: list[tuple[str, list[int]]] = []
    start = 0
    for match in CITATION.finditer(sentence):
        n = int(match.group(1))
        text = sentence[start : match.start()]
        if not text.strip() and parts:
            parts[-1][1].append(n) if 1 <= n <= count else None
        else:
            parts.append((text, [n] if 1 <= n <= count else []))
        start = match.end()
    tail = sentence[start:]
    if parts:
        parts[-1] = (parts[-1][0] + tail, parts[-1][1])
    else:
        parts.append((tail, []))
    return parts


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s and s.strip()]


def content_words(text: str) -> list[str]:
    """The words of a text that say something (four letters or more, common ones left out)."""
    return [w for w in WORD.findall(text.lower()) if w not in STOP]


def _share(content: set[str], source: set[str]) -> float:
    return len(content & source) / len(content) if content else 0.0


def _short(sentence: str, limit: int = 160) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
