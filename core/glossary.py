"""Measures analysts ask for by a name the filings do not print: capex, EBITDA, quick ratio, days sales outstanding.

A filing prints the line items a measure is made of ("Purchases of property, plant and equipment", "Total current
liabilities"), so a question that names the measure shares few words with the page that answers it. Each term here
names a measure (as analysts write it, US GAAP and IFRS alike), the line items that make it up, and the statement
they live on. Search runs the question once more with the measure's name replaced by its line items
(`core.retrieval`); the extractive answer counts the line items as the question's own words (`core.extractive`).

Only measures whose names the statements do not print, or print under several names (revenue is "net sales" in
one filing and "total net revenues" in another), are here, and every name
is a whole phrase or an abbreviation that means nothing else in prose, so a question about science or anything else
matches no term and searches exactly as before. An owner can add terms for a store (`Store.glossary`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import InvalidInput

MAX_TERMS = 200  # an owner's own terms per store
MAX_TERM_CHARS = 80
MAX_ITEMS_CHARS = 400
MAX_EXPANSIONS = 2  # a question naming more measures is searched for the first two only (each costs a search)


@dataclass(frozen=True)
class Term:
    names: tuple[str, ...]  # how the measure is asked for
    items: tuple[str, ...]  # the line items the filings print
    statement: str = ""  # where they are printed

    @property
    def label(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class Expansion:
    """One measure a question names, and the question asked in the filings' words."""

    term: Term
    query: str
    asked: str  # the measure as the question writes it

    @property
    def note(self) -> str:
        """What the score breakdown says: which measure, in which words."""
        return f"{self.asked} → {', '.join(self.term.items)}"


CASH_FLOW, INCOME, BALANCE = "cash flow statement", "income statement", "balance sheet"
BUILT_IN: tuple[Term, ...] = (
    Term(
        ("capital expenditure", "capital expenditures", "capex", "capital spending", "capital investment"),
        (
            "purchases of property, plant and equipment",
            "payments for property and equipment",
            "additions to property and equipment",
            "acquisition of property, plant and equipment",
        ),
        CASH_FLOW,
    ),
    Term(
        ("free cash flow", "free cashflow", "fcf"),
        ("net cash provided by operating activities", "purchases of property, plant and equipment"),
        CASH_FLOW,
    ),
    Term(
        ("ebitda",),
        ("operating income", "depreciation and amortization"),
        INCOME,
    ),
    Term(("ebit",), ("operating income", "income before income taxes", "interest expense"), INCOME),
    Term(
        ("quick ratio", "acid-test ratio", "acid test ratio"),
        (
            "cash and cash equivalents",
            "marketable securities",
            "accounts receivable",
            "total current assets",
            "inventories",
            "total current liabilities",
        ),
        BALANCE,
    ),
    Term(("current ratio",), ("total current assets", "total current liabilities"), BALANCE),
    Term(("working capital",), ("total current assets", "total current liabilities"), BALANCE),
    Term(
        ("gross margin", "gross profit margin"),
        ("gross profit", "cost of sales", "cost of revenue", "revenues"),
        INCOME,
    ),
    Term(("operating margin", "operating profit margin"), ("operating income", "total revenues", "net sales"), INCOME),
    Term(("net margin", "net profit margin", "profit margin"), ("net income", "total revenues", "net sales"), INCOME),
    Term(
        ("days sales outstanding", "dso"),
        ("accounts receivable, net", "total revenues", "net sales"),
        BALANCE,
    ),
    Term(
        ("days payable outstanding", "dpo"),
        ("accounts payable", "cost of sales", "inventories"),
        BALANCE,
    ),
    Term(("days inventory outstanding", "dio", "inventory turnover"), ("inventories", "cost of sales"), BALANCE),
    Term(
        ("fixed asset turnover", "fixed-asset turnover"),
        ("property and equipment, net", "property, plant and equipment, net", "total net revenues"),
        BALANCE,
    ),
    Term(("asset turnover",), ("total assets", "total revenues", "net sales"), BALANCE),
    Term(("return on assets", "roa"), ("net income", "total assets"), BALANCE),
    Term(
        ("return on equity", "roe"), ("net income", "total shareholders' equity", "total stockholders' equity"), BALANCE
    ),
    Term(
        ("debt to equity", "debt-to-equity", "leverage ratio", "net debt"),
        ("long-term debt", "short-term borrowings", "total equity", "cash and cash equivalents"),
        BALANCE,
    ),
    Term(("effective tax rate",), ("provision for income taxes", "income before income taxes"), INCOME),
    Term(("interest coverage",), ("operating income", "interest expense"), INCOME),
    Term(("dividend payout ratio", "payout ratio"), ("dividends paid", "net income"), CASH_FLOW),
    Term(
        ("share buybacks", "buybacks", "share repurchases"),
        ("repurchases of common stock", "treasury stock"),
        CASH_FLOW,
    ),
    Term(("cogs", "cost of goods sold"), ("cost of sales", "cost of revenue", "cost of products sold"), INCOME),
    Term(("sg&a",), ("selling, general and administrative expenses",), INCOME),
    Term(("d&a",), ("depreciation and amortization",), CASH_FLOW),
    Term(
        ("capital intensity", "capital-intensive", "capital intensive"),
        ("purchases of property, plant and equipment", "total assets", "revenues"),
        CASH_FLOW,
    ),
    Term(("top line", "topline", "revenue", "revenues"), ("total net sales", "total revenues", "net revenues"), INCOME),
    Term(("bottom line",), ("net income",), INCOME),
)


def parse_terms(text: str) -> dict[str, str]:
    """An owner's terms as typed, one per line: `measure = line item; line item` (blank lines and # comments skipped)."""
    terms: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, items = line.partition("=")
        name, items = " ".join(name.split()), " ".join(items.split())
        if not sep or not name or not items:
            raise InvalidInput(
                f"Line {number} of the glossary should read 'measure = line item; line item', not '{line[:80]}'."
            )
        if not any(i.strip() for i in items.split(";")):
            raise InvalidInput(f"Line {number} of the glossary names no line item after '=': '{line[:80]}'.")
        if len(name) > MAX_TERM_CHARS or len(items) > MAX_ITEMS_CHARS:
            raise InvalidInput(
                f"Line {number} of the glossary is too long: a measure has at most {MAX_TERM_CHARS} characters and "
                f"its line items at most {MAX_ITEMS_CHARS}."
            )
        terms[name] = items
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"A store's glossary holds at most {MAX_TERMS} terms, not {len(terms)}.")
    return terms


def format_terms(terms: Mapping[str, str]) -> str:
    return "\n".join(f"{name} = {items}" for name, items in terms.items())


def store_terms(terms: Mapping[str, str] | None) -> tuple[Term, ...]:
    """A store's own terms (from `parse_terms`), before the built-in ones: an owner's meaning wins."""
    return tuple(
        Term((name.lower(),), tuple(i.strip() for i in items.split(";") if i.strip()), "")
        for name, items in (terms or {}).items()
    )


def named(question: str, terms: Sequence[Term] = ()) -> list[tuple[Term, re.Match[str]]]:
    """The terms a question names, in the order it names them (a longer name wins over one inside it)."""
    found: list[tuple[Term, re.Match[str]]] = []
    taken: list[tuple[int, int]] = []
    candidates = [(name, term) for term in (*terms, *BUILT_IN) for name in term.names]
    for name, term in sorted(candidates, key=lambda c: -len(c[0])):
        match = _pattern(name).search(question)
        if match is None or any(s < match.end() and match.start() < e for s, e in taken):
            continue
        if any(t is term for t, _ in found):
            continue
        found.append((term, match))
        taken.append(match.span())
    return sorted(found, key=lambda f: f[1].start())


def expansions(question: str, terms: Sequence[Term] = ()) -> list[Expansion]:
    """The question once more per measure it names, the measure's name replaced by its line items."""
    result = []
    for term, match in named(question, terms)[:MAX_EXPANSIONS]:
        words = ", ".join(term.items)
        result.append(Expansion(term, f"{question[: match.start()]}{words}{question[match.end() :]}", match.group(0)))
    return result


def item_words(question: str, terms: Sequence[Term] = ()) -> str:
    """The line items of every measure the question names, as one text (the extractive answer's extra words)."""
    return " ".join(item for term, _ in named(question, terms) for item in term.items)


@functools.lru_cache(maxsize=4096)
def _pattern(name: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in name.split()]
    return re.compile(r"(?<![\w&-])" + r"[\s-]+".join(words) + r"(?![\w&])", re.IGNORECASE)
