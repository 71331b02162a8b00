"""Figures an answer computes: a ratio, a difference, a growth rate, a sum, a share. Such a figure is printed in no
source, so a check that only looks figures up would call a right answer unsupported. Instead, the answer shows its
working and the check redoes it:

- **Written working** (what written models are told to give, and what the offline answer writes):
  `(177,866 − 135,987) / 135,987 = 30.8% [1]`. Every operand must be a figure of the sources the sentence cites,
  and the arithmetic must give the stated result within the rounding it is written with (30.8% allows 30.75 to
  30.85); a percentage may be stated for a fraction (0.308).
- **Working in words** ("revenue grew 30.8% from $135,987 million to $177,866 million [1]"): the result is tried
  as the common operations on each pair of the sentence's cited figures (difference, sum, ratio, growth, share).

A figure that follows is "computed from [1], [2]"; one whose operands are not in the cited sources, or whose
arithmetic is wrong, stays flagged. `offline_working` computes a change between two periods of a quoted table row,
for the extractive answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core import grounding

OPERATORS = {"+": "+", "-": "−", "−": "−", "–": "−", "×": "×", "*": "×", "x": "×", "/": "/", "÷": "/"}
NUMBER = r"\$?+\d[\d,]*+(?:\.\d++)?+%?+"
MAX_TERMS = 20  # operands of one expression; a longer run of figures and dashes is a table row, not working
MAX_SENTENCE = 2_000  # characters of one sentence searched for working
# an expression of figures and + − × / with parentheses, then = (or ≈) and the result; every quantifier possessive
# and the terms bounded, so that a long run of figures, spaces and dashes is read in linear time
EXPRESSION = re.compile(
    rf"(?<![\d.,$])(?P<expr>[(\s]*+{NUMBER}(?:[)\s]*+[-+−–×*x/÷][(\s]*+{NUMBER}){{1,{MAX_TERMS}}}+[)\s]*+)"
    rf"(?:=|≈)\s*+(?P<result>[-−]?{NUMBER})"
)
DOWN = re.compile(r"\b(?:fell|fall|falls|decreas\w*|declin\w*|dropp?\w*|lower|down|shrank|shrunk|reduc\w*)\b", re.I)
UP = re.compile(r"\b(?:rose|rise|rises|grew|grow|grows|increas\w*|higher|up|improv\w*|gain\w*)\b", re.I)
FROM_TO = re.compile(r"\bfrom\b(?P<first>[^;]{0,60}?)\bto\b(?P<second>[^;]{0,60})", re.I)
TOKEN = re.compile(rf"\s*(?:(?P<number>{NUMBER})|(?P<op>[-+−–×*x/÷])|(?P<paren>[()]))")
CHANGE = re.compile(
    r"\b(change|changed|growth|grow|grew|increase|increased|decrease|decreased|compare|compared|difference|"
    r"year[- ]over[- ]year|yoy)\b",
    re.IGNORECASE,
)
YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
# numbers a working may use that no source prints: halves for an average, 100 for a percentage, days in a year
CONSTANTS = frozenset({"2", "3", "4", "12", "100", "360", "365"})
CELL = re.compile(
    r"(?<![\w.,])(?:\(?[-−]?\$?\s?\d[\d,]*(?:\.\d+)?\)?%?|[—–])(?![\w.,])"
)  # a table cell: a figure or a dash
WORKING = "Computed from"  # how the offline answer's working line starts


@dataclass(frozen=True)
class Computation:
    """A figure the answer derives, how, and from which sources; `ok` when the working gives it."""

    figure: str
    working: str  # "(177,866 − 135,987) / 135,987 = 30.8%"
    sources: tuple[int, ...]
    ok: bool

    def describe(self) -> str:
        cited = ", ".join(f"[{n}]" for n in self.sources)
        if self.ok:
            return f"{self.figure} computed from {cited}: {self.working}"
        return f"{self.figure} does not follow from {cited}: {self.working}"

    def as_record(self) -> dict[str, object]:
        return {"figure": self.figure, "working": self.working, "sources": list(self.sources), "ok": self.ok}

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Computation:
        sources = record.get("sources") or []
        assert isinstance(sources, list)
        return cls(str(record["figure"]), str(record["working"]), tuple(int(n) for n in sources), bool(record["ok"]))


def verify(sentence: str, cited: Sequence[int], known: Sequence[Sequence[grounding.Figure]]) -> list[Computation]:
    """The figures of a sentence that its cited sources do not print but that its working derives from them."""
    if not cited or len(sentence) > MAX_SENTENCE:
        return []
    pool = [f for n in cited for f in known[n - 1]]
    found: list[Computation] = []
    explained: set[str] = set()
    plain = grounding.CITATION.sub(" ", sentence)
    for match in EXPRESSION.finditer(plain):
        written = match["result"]
        result = _figure(written.lstrip("-−"))
        operands = _operands(match["expr"])
        if result is None or operands is None:
            continue
        value = _evaluate(match["expr"])
        held = all(any(o.matches(p) or o.found_in([p]) for p in pool) for o in operands)
        negative = written.startswith(("-", "−"))
        in_percent = result.percent and bool(re.search(r"[×*x]\s*100\b", match["expr"]))
        ok = held and value is not None and _equal(value, result, negative=negative, in_percent=in_percent)
        working = " ".join(f"{_tidy(match['expr'])} = {written}".split())
        found.append(Computation(result.text, working, tuple(cited), ok))
        explained.add(result.text)
    own = grounding.figures(plain)
    operands = [f for f in own if not f.year and f.found_in(pool)]
    for result in own:
        if result.year or result.text in explained or result.found_in(pool) or len(operands) < 2:
            continue
        working = _implied(plain, result, [o for o in operands if o is not result])
        if working:
            found.append(Computation(result.text, working, tuple(cited), True))
    return found


def offline_working(question: str, rows: Sequence[tuple[int, str]], *, about: Callable[[str], bool]) -> str:
    """For a question asking how a measure changed between two years: the change and growth computed from the first
    quoted table row that is `about` the measure the question names and holds it for both years (its column header
    naming the years, one figure per year), with the working."""
    if not CHANGE.search(question):
        return ""
    asked = list(dict.fromkeys(YEAR.findall(question)))
    for n, text in rows:
        header, _, row = text.rpartition(" | ")
        years = YEAR.findall(header)
        cells = CELL.findall(row)
        values = [f for f in grounding.figures(row) if not f.year]
        if len(years) < 2 or len(cells) != len(years) or len(values) != len(years):
            continue  # a column the figures do not fill one by one (a share, a dash, a % change) cannot be aligned
        if not about(row[: row.find(values[0].text)]):
            continue
        wanted = asked[:2] if len(asked) >= 2 and all(y in years for y in asked[:2]) else None
        if wanted is None and len(asked) == 1 and asked[0] in years:
            earlier = str(int(asked[0]) - 1)
            wanted = [earlier, asked[0]] if earlier in years else None
        if wanted is None:
            continue
        old_year, new_year = sorted(wanted)
        old, new = values[years.index(old_year)], values[years.index(new_year)]
        if old.text.startswith("(") != new.text.startswith("("):
            continue  # a loss one year and a profit the other: no growth rate means anything
        a, b = old.raw, new.raw  # both outflows (in parentheses) compare as their sizes
        if a == 0:
            continue
        label = row[: row.find(values[0].text)].strip(" $(") or "the measure"
        change = b - a
        if old.percent and new.percent:
            return (
                f"{WORKING} [{n}]: {label}, {new_year} against {old_year}: "
                f"{new.text} − {old.text} = {_format(change, _decimals(old, new))} percentage points [{n}]"
            )
        growth = 100 * change / abs(a)
        return (
            f"{WORKING} [{n}]: {label}, {new_year} against {old_year}: "
            f"{_plain(new)} − {_plain(old)} = {_format(change, _decimals(old, new))}; "
            f"({_plain(new)} − {_plain(old)}) / {_plain(old)} = {growth:.1f}% [{n}]"
        )
    return ""


def _implied(sentence: str, result: grounding.Figure, operands: Sequence[grounding.Figure]) -> str:
    """The working of a result stated in words that one common operation on two of the sentence's cited figures (or
    the sum of all) gives, or ''. "from A to B" fixes the order (the change is B − A, its growth over A) and a word
    of direction ("fell", "grew") must agree with its sign; without them the result is compared as a size."""
    scaled = result.own_scale  # "$229 million" from amounts written with their scale word; "229" from raw figures
    amount = lambda f: f.raw * (f.scale or 1.0) if scaled and f.own_scale else f.raw  # noqa: E731
    direction = -1 if DOWN.search(sentence) else (1 if UP.search(sentence) else 0)
    ordered = _from_to(sentence, operands)
    if ordered is not None:
        first, second = ordered
        a, b = amount(first), amount(second)
        if direction and (b - a) * direction < 0:
            return ""  # "fell" from a smaller figure to a larger one
        shapes = [(f"{second.text} − {first.text}", b - a)]
        shapes += [(f"({second.text} − {first.text}) / {first.text}", (b - a) / a)] if a else []
        for shape, value in shapes:
            if _equal(abs(value), result):
                return f"{shape} = {result.text}"
    pair = {id(o) for o in ordered} if ordered is not None else set()  # its change is decided above, in its order
    tries: list[tuple[str, Callable[[float, float], float | None]]] = [
        ("{a} − {b}", lambda a, b: a - b),
        ("{a} + {b}", lambda a, b: a + b),
        ("{a} / {b}", lambda a, b: a / b if b else None),
        ("({a} − {b}) / {b}", lambda a, b: (a - b) / b if b else None),
    ]
    for x, y in itertools.permutations(operands, 2):
        if {id(x), id(y)} == pair:
            continue
        a, b = amount(x), amount(y)
        for shape, operation in tries:
            value = operation(a, b)
            if value is not None and value >= 0 and _equal(value, result):
                return f"{shape.format(a=x.text, b=y.text)} = {result.text}"
    if len(operands) >= 3 and _equal(sum(amount(o) for o in operands), result):
        return " + ".join(o.text for o in operands) + f" = {result.text}"
    return ""


def _from_to(sentence: str, operands: Sequence[grounding.Figure]) -> tuple[grounding.Figure, grounding.Figure] | None:
    """The two operands of "from A to B", in that order, if the sentence says so."""
    match = FROM_TO.search(sentence)
    if match is None:
        return None
    first = [o for o in operands if o.text in match["first"]]
    second = [o for o in operands if o.text in match["second"]]
    return (first[0], second[0]) if first and second and first[0] is not second[0] else None


def _equal(value: float, result: grounding.Figure, *, negative: bool = False, in_percent: bool = False) -> bool:
    """Whether a computed value is the result as written (its sign too), within the rounding it is written with. A
    percentage states a fraction times 100, unless the working itself multiplies by 100 (`in_percent`)."""
    target = result.raw * (result.scale or 1.0) if result.own_scale else result.raw
    target = -target if negative else target
    slack = result.step * (result.scale or 1.0 if result.own_scale else 1.0) + abs(target) * 1e-9
    shown = value * 100 if result.percent and not in_percent else value
    return abs(shown - target) <= slack


def _figure(text: str) -> grounding.Figure | None:
    found = grounding.figures(text.replace("-", ""))
    return found[0] if found else None


def _operands(expression: str) -> list[grounding.Figure] | None:
    """The figures an expression takes from its sources (constants such as the 2 of an average left out)."""
    numbers = [m["number"] for m in TOKEN.finditer(expression) if m["number"]]
    taken = [n for n in numbers if n not in CONSTANTS]
    figures = [_figure(n) for n in taken]
    if any(f is None for f in figures) or len(numbers) < 2 or not figures:
        return None
    return [f for f in figures if f is not None]


def _evaluate(expression: str) -> float | None:
    """The value of figures joined by + − × / and parentheses (a small recursive-descent parser, no eval)."""
    tokens: list[str | float] = []
    for match in TOKEN.finditer(expression):
        if match["number"]:
            tokens.append(float(match["number"].strip("$%").replace(",", "")))
        elif match["op"]:
            tokens.append(OPERATORS[match["op"]])
        elif match["paren"]:
            tokens.append(match["paren"])
    position = 0

    def peek() -> str | float | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str | float | None:
        nonlocal position
        position += 1
        return tokens[position - 1] if position - 1 < len(tokens) else None

    def atom() -> float:
        token = take()
        if token == "(":
            value = total()
            if take() != ")":
                raise ValueError("unbalanced")
            return value
        if token == "−":
            return -atom()
        if isinstance(token, float):
            return token
        raise ValueError("operand expected")

    def product() -> float:
        value = atom()
        while peek() in ("×", "/"):
            op, right = take(), atom()
            value = value * right if op == "×" else value / right
        return value

    def total() -> float:
        value = product()
        while peek() in ("+", "−"):
            op, right = take(), product()
            value = value + right if op == "+" else value - right
        return value

    if len(tokens) > 4 * MAX_TERMS:
        return None
    try:
        value = total()
    except (ValueError, ZeroDivisionError, RecursionError):
        return None
    return value if position == len(tokens) else None


def _tidy(expression: str) -> str:
    text = " ".join(expression.split())
    for raw, shown in (("*", "×"), ("÷", "/"), ("–", "−")):
        text = text.replace(raw, shown)
    return re.sub(r"(?<=\d) ?- ?(?=[\d($])", " − ", text).strip()


def _plain(figure: grounding.Figure) -> str:
    return figure.text.strip("()") if figure.text.startswith("(") else figure.text


def _decimals(*figures: grounding.Figure) -> int:
    return max(len(f.text.strip("()%$").replace(",", "").partition(".")[2]) for f in figures)


def _format(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"
