"""Ranking choices above fusion: one result per page, the fusion weight that fits a store, and the documents a
question names."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from core import glossary
from core.embedding import MIN_RELEVANCE
from core.options import Mode
from core.records import Document, Hit, ReadyDocuments, ScoreBreakdown

DEFAULT_WEIGHT = 0.6  # the vector share for short documents (SciFact train: 0.726, within 0.004 of the best, 0.5)
LONG_DOCUMENT_WEIGHT = 0.8  # and for long ones (FinanceBench filings, bench/longdocs.py)
LONG_DOCUMENT_WINDOWS = 100  # a document of this many windows (some 25 pages) is long
NAMED_BONUS = 0.1  # added to hits of a document the question names (see named_documents)
# Chat answers only when the best hit's relevance (ScoreBreakdown.relevance) reaches the minimum of its search mode,
# chosen with bench/calibration.py on SciFact train and the FinanceBench dev filings, where it lets through at most
# 0.05 of unrelated questions and refuses at most 0.05 of answerable ones on both (README, "Refusals"). Both belong
# to the embedding model's cosine scale. Full-text search's own scale (the saturated BM25 score) cannot tell an
# unrelated question from a related one (a long question collects BM25 on common words): chat measures its hits'
# relevance by their cosine with the question (core.relevance.with_cosines), with a minimum of its own (the pages BM25
# finds for a related question are not always the ones closest in meaning, so their best cosine is lower).
# In hybrid search chat also answers when the best cosine reaches the vector minimum: on a store of a few documents
# every term is common, BM25 scores stay small and a clearly related passage (cosine 0.6) can fuse below 0.40.
REFUSAL_FUSED: dict[str, float] = {model: 0.40 for model in MIN_RELEVANCE}
REFUSAL_FULLTEXT: dict[str, float] = {model: 0.35 for model in MIN_RELEVANCE}  # BM25's best finds score lower


def refusal_minimum(mode: Mode, model: str) -> float | None:
    """The relevance below which chat refuses for this search mode and embedding model (None: not calibrated)."""
    minimums = {Mode.HYBRID: REFUSAL_FUSED, Mode.VECTOR: MIN_RELEVANCE, Mode.FULLTEXT: REFUSAL_FULLTEXT}
    return minimums[mode].get(model)


STATEMENT_BONUS = 0.1  # added to hits of the financial statement a question's measure lives on (prefer_statements)
FURNITURE_PENALTY = 0.1  # taken from hits of exhibit lists, certifications, auditors' reports and subsidiary lists
# how a question names a statement
ASKED_STATEMENTS = {
    glossary.CASH_FLOW: re.compile(r"cash ?flows? statements?|statements? of cash flows?", re.I),
    glossary.INCOME: re.compile(r"income statements?|statements? of (?:income|operations|earnings)\b|p ?& ?l\b", re.I),
    glossary.BALANCE: re.compile(r"balance sheets?|statements? of financial (?:position|condition)", re.I),
}
# A statement's page carries its title in title or upper case ("Consolidated Statements of Cash Flows"); prose that
# mentions it writes it in lower case ("included in the consolidated balance sheets"), and is not the page.
_TITLE = r"(?:CONSOLIDATED|Consolidated|COMBINED|Combined) "
STATEMENTS = {
    glossary.CASH_FLOW: re.compile(_TITLE + r"(?:STATEMENTS? OF CASH FLOWS?|Statements? [Oo]f Cash Flows?)"),
    glossary.INCOME: re.compile(
        _TITLE + r"(?:STATEMENTS? OF (?:INCOME|OPERATIONS|EARNINGS)|Statements? [Oo]f (?:Income|Operations|Earnings))\b"
    ),
    glossary.BALANCE: re.compile(
        _TITLE
        + r"(?:BALANCE SHEETS?|Balance Sheets?|STATEMENTS? OF FINANCIAL POSITION|Statements? [Oo]f Financial Position)"
    ),
}
# Pages a filing carries for the regulator that answer no question about the business, but share its words (the
# company's name, the year, "annual report", "financial statements"): exhibit pages, officers' certifications, the
# auditors' report and consent, lists of subsidiaries, a plan document's signature article.
FURNITURE = re.compile(
    r"^\W*(?:table of contents\W*)?(?:exhibit \d+(?:\.\d+)?\b|certifications?\b|report of independent registered|"
    r"consent of independent|(?:list of )?subsidiaries of\b)|I have reviewed this (?:annual|quarterly) report|"
    r"\bname\s+(?:place|state|country|jurisdiction) of (?:incorporation|organi[sz]ation)|"
    r"\barticle [ivxl]+\W{1,3}signature",
    re.IGNORECASE,
)


def prefer_statements(query: str, hits: list[Hit], terms: Sequence[glossary.Term] = ()) -> list[Hit]:
    """Pages of the statement a question asks about (named in it, or where the measure it names is printed) rank
    higher by STATEMENT_BONUS; pages of exhibits, certifications and the like lower by FURNITURE_PENALTY. Both are
    recorded in the breakdown. A question naming no statement and no measure only meets the penalty."""
    wanted = {name for name, pattern in ASKED_STATEMENTS.items() if pattern.search(query)}
    wanted |= {term.statement for term, _ in glossary.named(query, terms) if term.statement in STATEMENTS}
    changed = False
    adjusted = []
    for hit in hits:
        head = f"{hit.header}\n{hit.text[:300]}"  # the page's title lines
        bonus = STATEMENT_BONUS if any(STATEMENTS[name].search(head) for name in wanted) else 0.0
        penalty = FURNITURE_PENALTY if FURNITURE.search(hit.text[:600]) else 0.0
        if bonus or penalty:
            changed = True
            breakdown = replace(hit.breakdown or ScoreBreakdown(), statement=bonus or None, furniture=penalty or None)
            hit = replace(hit, score=hit.score + bonus - penalty, breakdown=breakdown)
        adjusted.append(hit)
    return sorted(adjusted, key=lambda h: -h.score) if changed else hits


def by_page(hits: list[Hit]) -> list[Hit]:
    """One hit per page, in order: the page's best window, counting how many of its windows matched."""
    first: dict[tuple[str | None, str, int], int] = {}
    pages: list[Hit] = []
    for hit in hits:
        if hit.page is None:
            pages.append(hit)
            continue
        key = (hit.store, hit.document_id, hit.page)
        if key in first:
            best = pages[first[key]]
            pages[first[key]] = replace(best, windows=best.windows + 1)
        else:
            first[key] = len(pages)
            pages.append(hit)
    return pages


def fusion_weight(documents: int, windows: int) -> float:
    """The vector share of weighted fusion that fits a store: long documents (filings: hundreds of windows each, full
    of figures and words every page repeats) want less BM25 than short ones (abstracts, notes, emails), where BM25's
    exact terms carry more. Decided by the store's mean windows per document (see LONG_DOCUMENT_WINDOWS)."""
    if documents and windows / documents >= LONG_DOCUMENT_WINDOWS:
        return LONG_DOCUMENT_WEIGHT
    return DEFAULT_WEIGHT


def fusion_weight_note(documents: int, windows: int) -> str:
    """Which vector share is in force for a store, and why, for people."""
    weight = fusion_weight(documents, windows)
    if not documents:
        return f"{weight:g} (no documents yet)"
    size = "long" if weight == LONG_DOCUMENT_WEIGHT else "short"
    return f"{weight:g} ({size} documents, about {windows / documents:,.0f} windows each)"


_NAME_SPLIT = re.compile(r"[^0-9a-z]+")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@dataclass(frozen=True)
class DocumentNames:
    """The words of some documents' file names, indexed once (per version of a store's documents) so that a question
    is matched against the words it writes, not against every document."""

    total: int  # documents indexed
    by_part: Mapping[str, frozenset[str]]  # a name word (not a number) -> the documents whose names hold it
    by_year: Mapping[str, frozenset[str]]  # a year written in a name (one with words too) -> those documents
    longest: int  # the longest name word

    @classmethod
    def of(cls, documents: Iterable[Document]) -> DocumentNames:
        parts: dict[str, set[str]] = {}
        years: dict[str, set[str]] = {}
        total = 0
        for document in documents:
            total += 1
            stem = document.filename.rsplit(".", 1)[0].lower()
            words = {p for p in _NAME_SPLIT.split(stem) if p and not p.isdigit()}
            for word in words:
                parts.setdefault(word, set()).add(document.id)
            for year in set(_YEAR.findall(stem)) if words else ():  # '2019.txt' is an id, not a year
                years.setdefault(year, set()).add(document.id)
        return cls(
            total=total,
            by_part={w: frozenset(ids) for w, ids in parts.items()},
            by_year={y: frozenset(ids) for y, ids in years.items()},
            longest=max(map(len, parts), default=0),
        )


_NAMES: weakref.WeakKeyDictionary[ReadyDocuments, DocumentNames] = weakref.WeakKeyDictionary()
_NAMES_LOCK = threading.Lock()


def names_of(ready: ReadyDocuments) -> DocumentNames:
    """The name index of a store's ready documents, built once for each version the catalog hands out."""
    with _NAMES_LOCK:
        found = _NAMES.get(ready)
    if found is None:
        found = DocumentNames.of(ready.documents)
        with _NAMES_LOCK:
            _NAMES[ready] = found
    return found


def named_documents(query: str, documents: Sequence[Document] | Sequence[DocumentNames]) -> set[str]:
    """The documents a question names: words of their file names (a company, a product, a year) that the question
    writes as a name (capitalised, or a number: '3M', 'Boeing', 'FY2018'), also run together ('AMERICANEXPRESS' is
    'American Express'). Only the best match counts, and only when it singles out some documents: a word every file
    name shares names none, and a topic word in lower case ('pump') is a topic, not a name. The cost follows the
    question's words, not the number of documents (their names are indexed: `DocumentNames`)."""
    indexes = [d for d in documents if isinstance(d, DocumentNames)]
    plain = [d for d in documents if isinstance(d, Document)]
    if plain:
        indexes.append(DocumentNames.of(plain))
    names = [w.lower() for w in re.findall(r"[A-Za-z0-9&]+", query) if w[0].isupper() or w[0].isdigit()]
    words = {p for w in names for p in _NAME_SPLIT.split(w) if p}
    squashed = "".join(_NAME_SPLIT.sub("", w) for w in names)
    longest = max((i.longest for i in indexes), default=0)
    run_together = {  # name words of six letters or more written inside the squashed names
        squashed[a:b] for a in range(len(squashed)) for b in range(a + 6, min(len(squashed), a + longest) + 1)
    }
    years = set(_YEAR.findall(query))
    scores: dict[str, int] = {}
    for index in indexes:
        for word in words | run_together:
            for document_id in index.by_part.get(word, ()):
                scores[document_id] = scores.get(document_id, 0) + 1
        for document_id in {d for y in years for d in index.by_year.get(y, ())}:
            scores[document_id] = scores.get(document_id, 0) + 1
    best = max(scores.values(), default=0)
    chosen = {d for d, n in scores.items() if n == best}
    return chosen if best > 0 and len(chosen) < sum(i.total for i in indexes) else set()


def prefer_named(query: str, hits: list[Hit], documents: Sequence[DocumentNames]) -> list[Hit]:
    """Hits of the documents the question names rank higher by NAMED_BONUS (recorded in their breakdown)."""
    named = named_documents(query, documents)
    if not named:
        return hits
    raised = [
        replace(h, score=h.score + NAMED_BONUS, breakdown=replace(h.breakdown or ScoreBreakdown(), named=NAMED_BONUS))
        if h.document_id in named
        else h
        for h in hits
    ]
    return sorted(raised, key=lambda h: -h.score)
