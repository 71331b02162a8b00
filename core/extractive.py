"""Answers quoted from the documents: the sentences and table rows of the retrieved sources that best answer the
question, each with its citation. Nothing is written that a source does not say, so no figure can be invented.

A candidate (a sentence, or a table row with the header lines above it: its years and units) is ranked by what the
question asks, not by how much it resembles the question overall:
- **the question's words, weighted by how rare they are among the candidates.** A company's name is on every page
  of its filing and tells no candidate from another; "capital expenditure", "2018" or "stores" do. A measure the
  filings print under other names (core.glossary: capex is "purchases of property, plant and equipment") counts
  its line items as the question's words;
- the embedding model's cosine with the question (meaning beyond the exact words);
- **the period**: a candidate that names a year the question asks about (in its text or its column header);
- **figures for figure questions**: "how much", "how many", a ratio, a rate, a measure: a table row or a sentence
  with a figure is what answers them;
- **the source's rank**: the search ranked the sources with the whole page in view, so the first gets its due.
A candidate that shares no word with the question is never quoted, and page furniture and boilerplate (web
addresses, street addresses, forward-looking and safe-harbour language, exhibit lists, certifications, tables of
contents) is never a candidate. When the question asks for a change or growth between two periods and a quoted
row holds the measure for both, the change is computed and its working shown (core.computed).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core import computed, glossary, grounding
from core.records import Hit

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit vectors, one row each

MAX_QUOTES = 3
MIN_CHARS = 25  # shorter passages are headings or fragments, not answers
MAX_CHARS = 400  # longer ones are cut at a sentence inside them
KEEP_SHARE = 0.8  # a passage is quoted when it scores at least this share of the best one
# How each reason counts beside the cosine (0 to about 0.7 for MiniLM). Chosen so that each reason can lift a
# candidate past a merely similar one but none alone decides: the question's rare words count most (a share of 0 to
# 1 times WORDS), the period and a figure for a figure question less, the source's rank least.
WORDS = 0.6
PERIOD = 0.15
FIGURE = 0.15
ROW = 0.05  # a table row (with its column header) over a sentence that mentions a figure, for a figure question
RANK = 0.1  # the first source; the n-th gets RANK / n
FRAGMENT = 0.15  # a candidate cut off at a window's edge ("... and in 2022, 92") reads as half a thought
ABOUT_SHARE = 0.5  # a row is about the asked measure when at least this share of its label's words are asked
INTRO = "From the documents:"
MARKER = re.compile(r"\[(\d{1,3})\]")  # a source's own "[3]" is not one of our citations once quoted
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“!\[<])")  # an image, link or tag after a stop starts anew
NUMBER = re.compile(r"\(?\$?\d[\d,.]*\)?%?")
ROW_SHARE = 0.25  # a table row: numbers are at least this share of its words (prose mentions a year or two)
UNITS = re.compile(r"\((?:\$|dollars|amounts)?\s*(?:in\s+)?(?:thousands|millions|billions)\b", re.IGNORECASE)
YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
WORD = re.compile(r"[a-z0-9][a-z0-9'&-]{2,}")
FISCAL = re.compile(r"\bfy(?=\d)")
FIGURE_QUESTION = re.compile(
    r"\b(how (?:much|many)|amount|number of|ratio|rate|percent(?:age)?|margin|total|value|cost|costs|price|"
    r"revenue|revenues|sales|income|expense|expenses|cash|debt|assets|liabilities|dividend|dividends|growth|change|"
    r"increase|decrease|turnover|per share|eps)\b|%",
    re.IGNORECASE,
)
# the grounding check's common words, the short ones, and the words of an analyst's instructions ("give a response by
# relying on the details shown")
STOP = grounding.STOP | frozenset(
    [
        "the",
        "and",
        "for",
        "was",
        "are",
        "how",
        "did",
        "its",
        "his",
        "her",
        "has",
        "had",
        "who",
        "whom",
        "why",
        "onto",
        "any",
        "all",
        "per",
        "based",
        "using",
        "use",
        "give",
        "given",
        "following",
        "response",
        "please",
        "shown",
        "show",
        "relying",
        "rely",
        "details",
        "detail",
        "information",
        "primarily",
        "mainly",
        "assume",
        "you",
        "our",
        "state",
        "explain",
        "calculate",
        "calculated",
        "asked",
        "define",
        "defined",
        "round",
        "decimal",
        "place",
        "places",
        "units",
        "unit",
        "terms",
        "term",
        "metric",
        "useful",
        "not",
        "is",
        "it",
        "be",
        "of",
        "in",
        "on",
        "at",
        "by",
        "as",
        "to",
        "or",
        "an",
        "if",
    ]
)
# Never quoted: page furniture and boilerplate that answers no question an analyst asks of a filing or a report.
# A web address (or a Markdown image or link around one) makes a passage furniture only when little else is left of it:
# "Investor relations: investors.example.com" is a line of page furniture; a sentence of content with a link in it is
# content.
WEB = re.compile(
    r"!?\[[^\]]{0,200}\]\([^)\s]{0,500}\)|!?\[[^\]]{0,200}\]\[[^\]]{0,200}\]|https?://\S{0,500}|www\.\S{0,300}|"
    r"<[^>]{0,300}>|(?<![\w.-])[\w-]{1,63}(?:\.[\w-]{1,63}){0,4}\.(?:com|org|net|gov)\b\S{0,300}|\S{1,64}@[\w-]+\.\S{1,64}",
    re.IGNORECASE,
)
WEB_WORDS = 6  # content words a passage must keep once its addresses are taken out
BOILERPLATE = re.compile(
    r"forward[- ]looking|safe harbou?r|private securities litigation reform|"
    r"\btable of contents\b|\bincorporated (?:herein )?by reference\b|\bexhibit \d|"
    r"\bindicate by check mark\b|\bI have reviewed this\b|"
    r"\bcommission file number\b|\bexact name of registrant\b|\(I\.R\.S\.|/s/|\bpower of attorney\b|"
    r"\bconsent of\b|\bsignatures?\b.{0,200}\bdate\b|"
    r"\b\d{1,5} [A-Z][a-z]+ (?:Street|St\.|Avenue|Ave\.|Road|Rd\.|Boulevard|Blvd\.|Drive|Parkway|Way|Lane)\b|"
    r"\(\d{3}\) ?\d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b|^\s*(?:page )?\d{1,3}\s*$|"
    r"\bannual report on form 10-k\b|\bform 10-[kq]\b.{0,200}\b(?:for the|fiscal) |"
    r"^\W*(?:for the |as of )?(?:fiscal )?(?:years?|quarters?|periods?|months?) ended\b[\w\s,]*$",
    re.IGNORECASE,
)
# "December 31, 2019": a date's day is not one of a table row's figures
DATE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2},?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Passage:
    n: int  # the source it comes from, 1-based
    text: str
    score: float = 0.0
    row: bool = False  # a table row, with its column header before " | "


def passages(hits: Sequence[Hit]) -> list[Passage]:
    """Each source cut into sentences, and table rows (lines of several numbers) with their header line; page
    furniture and boilerplate left out."""
    found = [p for n, hit in enumerate(hits, start=1) for p in _passages_of(n, MARKER.sub(r"(\1)", hit.text))]
    return [
        Passage(p.n, _cut(p.text), row=p.row)
        for p in found
        if len(p.text) >= MIN_CHARS and not BOILERPLATE.search(p.text) and not _web_furniture(p.text)
    ]


def _web_furniture(text: str) -> bool:
    return bool(WEB.search(text)) and len(_words(WEB.sub(" ", text))) < WEB_WORDS


def _passages_of(n: int, text: str) -> list[Passage]:
    found: list[Passage] = []
    units, years, prose = "", "", []  # a PDF breaks its sentences into lines: prose lines are joined again
    for raw in [*text.splitlines(), ""]:
        line = " ".join(raw.split())
        numbers = len(NUMBER.findall(DATE.sub(" ", line)))
        row = numbers >= 2 and numbers >= ROW_SHARE * len(line.split()) and not line.endswith(".")
        if line and not row and not _is_header(line):
            prose.append(line)
            continue
        found += [Passage(n, s) for s in SENTENCE.split(" ".join(prose)) if len(s) >= MIN_CHARS]
        prose = []
        if UNITS.search(line) and numbers <= 1:
            units = line
        elif _is_header(line):
            years = line
        elif row:
            header = " ".join(h for h in (units, years) if h)
            found.append(Passage(n, f"{header} | {line}" if header else line, row=True))
    return found


def answer(question: str, hits: Sequence[Hit], embed: Embed, *, terms: Sequence[glossary.Term] = ()) -> str:
    """The best passages quoted with their citations, the best first, with the working of a change the question
    asks for; '' when no passage of the sources shares a word with the question."""
    chosen = ranked(question, hits, embed, terms=terms)
    if not chosen:
        return ""
    lines = [INTRO, *(f"- “{p.text}” [{p.n}]" for p in chosen)]
    asked = set(_words(question)) | set(_words(glossary.item_words(question, terms)))
    working = computed.offline_working(
        question, [(p.n, p.text) for p in chosen if p.row], about=lambda label: _about(label, asked)
    )
    if working:
        lines += ["", working]  # a paragraph of its own, under the quotes
    return "\n".join(lines)


def ranked(question: str, hits: Sequence[Hit], embed: Embed, *, terms: Sequence[glossary.Term] = ()) -> list[Passage]:
    """The passages to quote, the best first: at most MAX_QUOTES, each within KEEP_SHARE of the best."""
    candidates = passages(hits)
    asked = set(_words(question))
    extra = set(_words(glossary.item_words(question, terms))) - asked
    candidates = [p for p in candidates if (asked | extra) & set(_words(p.text))]
    if not candidates:
        return []
    weight = _rarity(candidates)
    total = sum(weight.get(w, _unseen(len(candidates))) for w in asked) or 1.0
    queries = [question, *(e.query for e in glossary.expansions(question, terms))]
    vectors = embed([*queries, *(p.text for p in candidates)])
    cosines = (vectors[len(queries) :] @ vectors[: len(queries)].T).max(axis=1)
    years = set(YEAR.findall(question))
    wants_figure = bool(FIGURE_QUESTION.search(question))
    scored = []
    for p, cosine in zip(candidates, cosines, strict=True):
        own = set(_words(p.text))
        share = min(1.0, sum(weight[w] for w in (asked | extra) & own) / total)
        score = float(cosine) + WORDS * share + RANK / p.n
        score += PERIOD if years & set(YEAR.findall(p.text)) else 0.0
        if wants_figure and _has_figure(p.text):
            score += FIGURE + (ROW if p.row else 0.0)
        score -= FRAGMENT if _fragment(p.text) else 0.0
        scored.append(Passage(p.n, p.text, score, p.row))
    scored.sort(key=lambda p: -p.score)
    best = scored[0].score
    chosen: list[Passage] = []
    for passage in scored:
        if len(chosen) == MAX_QUOTES or (chosen and passage.score < best * KEEP_SHARE):
            break
        if all(passage.text not in c.text and c.text not in passage.text for c in chosen):
            chosen.append(passage)
    return chosen


def _about(label: str, asked: set[str]) -> bool:
    """Whether a table row's label names the measure asked about: most of its words are the question's (or the
    line items of a measure it names)."""
    words = set(_words(label))
    return bool(words) and len(words & asked) / len(words) >= ABOUT_SHARE


def _rarity(candidates: Sequence[Passage]) -> dict[str, float]:
    """Each word's weight: log of how few candidates hold it (a word every candidate holds weighs little)."""
    counts: Counter[str] = Counter(w for p in candidates for w in set(_words(p.text)))
    n = len(candidates)
    return {w: math.log(1 + n / c) for w, c in counts.items()}


def _unseen(n: int) -> float:
    return math.log(1 + n)


def _has_figure(text: str) -> bool:
    return any(not YEAR.fullmatch(m.strip("()$%,.")) for m in NUMBER.findall(text.partition(" | ")[2] or text))


def _fragment(text: str) -> bool:
    """Cut at a window's edge: it starts in the middle of a sentence."""
    first = text.lstrip("“\"'(")[:1]
    return bool(first) and (first.islower() or first in ",;:)")


def _is_header(line: str) -> bool:
    """A table's header line: two or more years and few other numbers, or a line naming its units."""
    years = len(YEAR.findall(line))
    short = len(line.split()) <= years + 4  # "Years ended December 31 2018 2017 2016", not a sentence naming years
    return (years >= 2 and short and len(NUMBER.findall(line)) <= years + 1) or (
        bool(UNITS.search(line)) and len(NUMBER.findall(line)) <= 1
    )


def _cut(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS]
    stop = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[: stop + 1] if stop > MIN_CHARS else cut.rsplit(" ", 1)[0]) + " …"  # never inside a word


def _words(text: str) -> list[str]:
    """Content words, lightly stemmed (plural s), FY2018 read as 2018."""
    found = []
    for word in WORD.findall(FISCAL.sub(" ", text.lower())):
        if word in STOP:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found
