"""Computed figures: the check redoes the working of a ratio, a difference, a growth rate or a sum from the cited
figures, marks the result computed from its sources, and flags wrong arithmetic and operands no source prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import computed, grounding

CASES = [
    json.loads(line) for line in (Path(__file__).parents[1] / "cases" / "computed_cases.jsonl").read_text().splitlines()
]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_computed_answers_from_the_dev_filings(case: dict[str, object]) -> None:
    """Written from the FinanceBench dev filings' evidence pages: right working verified, wrong working flagged."""
    check = grounding.check(str(case["answer"]), list(case["sources"]))  # type: ignore[arg-type]
    if case["expect"] == "computed":
        assert check.grounded and check.figures == (), check.summary()
        assert any(w.ok for w in check.computed)
    else:
        assert not check.grounded and check.figures, case["name"]
        assert not any(w.ok for w in check.computed)


def test_the_working_names_its_operation_operands_and_sources() -> None:
    check = grounding.check(
        "Quick ratio: (2,605 + 24,506) / 50,171 = 0.54 [1].", ["Cash $ 2,605 Receivables 24,506 Liabilities 50,171"]
    )
    [work] = check.computed
    assert work.ok and work.figure == "0.54" and work.sources == (1,)
    assert work.describe() == "0.54 computed from [1]: (2,605 + 24,506) / 50,171 = 0.54"
    again = grounding.Grounding.from_record(json.loads(json.dumps(check.as_record())))
    assert again is not None and again.computed == check.computed  # kept with the saved answer


def test_rounding_is_the_one_the_result_is_written_with() -> None:
    sources = ["Revenue 135,987 177,866"]
    assert grounding.check("(177,866 − 135,987) / 135,987 = 30.80% [1]", sources).grounded
    assert not grounding.check("(177,866 − 135,987) / 135,987 = 30.90% [1]", sources).grounded  # 30.797 is 30.80
    assert grounding.check("(177,866 − 135,987) / 135,987 = 31% [1]", sources).grounded
    assert grounding.check("(177,866 − 135,987) / 135,987 = 0.308 [1]", sources).grounded


def test_a_wrong_result_says_what_does_not_follow() -> None:
    check = grounding.check("(177,866 − 135,987) / 135,987 = 35.0% [1]", ["Revenue 135,987 177,866"])
    assert "35.0% does not follow from [1]: (177,866 − 135,987) / 135,987 = 35.0%" in check.summary()


def test_expressions_are_evaluated_without_eval() -> None:
    assert computed._evaluate("(2 + 3) × 4") == 20
    assert computed._evaluate("10 / (5 − 5)") is None
    assert computed._evaluate("__import__('os')") is None
    assert computed._evaluate("(1 + 2") is None


def test_the_offline_answer_computes_a_change_only_when_asked_and_from_both_years() -> None:
    rows = [(2, "(in millions) 2016 2017 | Net income 2,371 3,033")]
    about = lambda label: "income" in label.lower()  # noqa: E731
    assert computed.offline_working("What was net income in 2017?", rows, about=about) == ""
    line = computed.offline_working("How did net income change from 2016 to 2017?", rows, about=about)
    assert (
        line
        == "Computed from [2]: Net income, 2017 against 2016: 3,033 − 2,371 = 662; (3,033 − 2,371) / 2,371 = 27.9% [2]"
    )
    assert grounding.check(line, ["", "(in millions) 2016 2017 Net income 2,371 3,033"]).grounded
    assert computed.offline_working("How did net income change from 2014 to 2015?", rows, about=about) == ""
    assert computed.offline_working("How did sales change from 2016 to 2017?", rows, about=lambda _: False) == ""
    shares = [(1, "Net Sales % of Total 2022 2021 % change | Corporate and Unallocated 4 — 1,519 2 — (176)")]
    assert computed.offline_working("How did it change from 2021 to 2022?", shares, about=about) == ""  # unaligned


@pytest.mark.parametrize(
    "answer",
    [
        "Revenue grew 42% from 135,987 to 177,866 [1].",  # the difference over 1,000, not the growth
        "Net sales rose (177,866 − 135,987) / 135,987 = 0% [1].",
        "The ratio was 177,866 / 135,987 = 1.31% [1].",  # a ratio of 1.31 is 131%
        "Sales rose 41,879% from 135,987 to 177,866 [1].",
        "The change was (177,866 − 135,987) / 135,987 = −30.8% [1].",  # the sign is part of the result
        "Sales fell 30.8% from 177,866 to 135,987 [1].",  # that fall is 23.5%
        "Sales rose 23.5% from 177,866 to 135,987 [1].",  # a fall, said to be a rise
    ],
)
def test_figures_that_do_not_follow_are_never_marked_computed(answer: str) -> None:
    check = grounding.check(answer, ["Net sales 177,866 135,987"])
    assert not check.grounded and not any(w.ok for w in check.computed), check.computed


def test_a_falling_figure_in_words_is_verified_with_its_direction() -> None:
    assert grounding.check("Sales fell 23.5% from 177,866 to 135,987 [1].", ["Net sales 177,866 135,987"]).grounded


def test_a_figure_derived_in_one_sentence_is_not_excused_in_another() -> None:
    sources = ["Net sales 177,866 135,987", "Hotels cost 180 EUR."]
    check = grounding.check("(177,866 − 135,987) / 135,987 = 30.8% [1]. Hotels grew 30.8% [2].", sources)
    assert not check.grounded and "30.8%" in check.figures


def test_a_loss_turned_profit_gets_no_growth_rate() -> None:
    rows = [(1, "(in millions) 2019 2020 | Net income (loss) $ (1,234) $ 567")]
    assert computed.offline_working("How did net income change from 2019 to 2020?", rows, about=lambda _: True) == ""


@pytest.mark.timeout(120)  # the regular expressions are possessive: these end at once instead of backtracking for hours
def test_hostile_working_never_hangs_or_crashes() -> None:
    deep = "(" * 400 + "1,234 + 5,678" + ")" * 400 + " = 6,912 [1]."
    assert not grounding.check(deep, ["1,234 5,678"]).grounded  # too deep to be working: flagged, no RecursionError
    for text in ("1 - " * 5_000, "1+" * 50_000, "1 + " * 25 + "x", "1.2." * 10_000):
        assert not grounding.check(f"Total was {text} = 7,777 [1].", ["1 2"]).grounded
