"""Answers checked against their sources: figures in any of their written forms, cited statements, refusals,
the offline default that quotes, and the record everywhere an answer is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from core.config import Settings
from core.errors import NotFound
from core.grounding import check, figures
from core.ingest import Upload
from core.options import AnswerMode, AskOptions, SearchOptions
from core.workbench import Workbench
from tests.conftest import make_pdf

CASHFLOW = (
    "Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420) for 2018, 2017 and 2016 (in millions)."
)
REPORT = [
    "The Kestrel turbine blade is machined from a single nickel alloy casting in the Aldwick plant.",
    "The ceramic coating on the Kestrel blade is 0.4 millimetres thick and withstands 1,150 degrees Celsius. "
    "Coating is applied by plasma spraying in a vacuum chamber.",
    "Maintenance crews inspect every blade after 3,000 flight hours with a borescope.",
]
INVENTED = "The ceramic coating on the Kestrel blade is 75469 millimetres thick [1]."


@pytest.mark.parametrize(
    "answer", ["$1,577 million [1]", "1577 [1]", "(1,577) [1]", "$1.6 billion [1]", "1.58bn [1]", "USD 1,577m [1]"]
)
def test_one_amount_in_its_many_written_forms_is_found(answer: str) -> None:
    result = check(f"Capital expenditure in 2018 was {answer}.", [CASHFLOW])
    assert result.grounded, result


@pytest.mark.parametrize("answer", ["$1.7 billion", "1,578", "15.77%", "75469", "2019"])
def test_a_figure_no_source_holds_is_flagged(answer: str) -> None:
    result = check(f"Capital expenditure in 2018 was {answer} [1].", [CASHFLOW])
    assert not result.grounded and result.figures == (answer,)
    assert result.summary().startswith(f"1 figure in this answer does not appear in the sources: {answer}.")


def test_citations_must_hold_what_cites_them_and_claims_must_have_a_source() -> None:
    sources = [CASHFLOW, "Revenue grew 12% to $32.8 billion."]
    both = check("Revenue grew 12 percent [2] and capex was (1,577) [1].", sources)
    assert both.grounded and [c.supported for c in both.citations] == [True, True]
    swapped = check("Revenue grew 12 percent [1].", sources)
    assert not swapped.grounded and swapped.citations[0].missing == ("12 percent",) and not swapped.figures
    invented = check("The company has three segments: Safety, Industrial and Health Care.", sources)
    assert not invented.grounded and invented.sentences
    assert check("The documents do not say what the dividend was.", sources).grounded  # a refusal claims nothing


ACCOUNTS = "Net revenue was 1,577 (in millions). Diluted EPS was $3.21. We run 15 plants. Margin rose 12.5%."


@pytest.mark.parametrize("answer", ["$1.58 million", "$1,577 billion", "$1.6 trillion", "$3.2 billion", "1250%", "15%"])
def test_a_figure_at_another_scale_or_unit_than_its_source_is_flagged(answer: str) -> None:
    assert check(f"The figure was {answer} [1].", [ACCOUNTS]).figures == (answer,)


def test_each_of_several_citations_must_hold_a_part_of_its_sentence() -> None:
    result = check("Net revenue was 1,577 [1][2].", [ACCOUNTS, "It rained in Paris all week."])
    assert [(c.n, c.supported) for c in result.citations] == [(1, True), (2, False)] and not result.grounded


def test_names_codes_and_counting_words_are_not_figures() -> None:
    assert [f.text for f in figures("3M filed its 10-K; the 2 segments grew 4.5% in Q3 2018 [1].")] == [
        "10",
        "4.5%",
        "2018",
    ]


@pytest.fixture
def turbines(settings: Settings, tmp_path: Path) -> Workbench:
    models = tmp_path / "models.yaml"
    models.write_text(
        "model_list:\n"
        f"  - model_name: inventor\n    litellm_params: {{model: openai/inventor, mock_response: '{INVENTED}'}}\n"
        "  - model_name: truthful\n    litellm_params: {model: openai/truthful, mock_response: "
        "'The ceramic coating on the Kestrel blade is 0.4 millimetres thick [1].'}\n"
    )
    wb = Workbench(settings.replace(models_file=models))
    wb.stores.create(wb.actor("admin"), "turbines")
    wb.documents.ingest(wb.actor("admin"), "turbines", [Upload("kestrel.pdf", make_pdf(REPORT))])
    return wb


QUESTION = "How thick is the ceramic coating on the Kestrel blade?"


def test_an_invented_figure_is_flagged_in_the_answer_its_conversation_export_and_usage(turbines: Workbench) -> None:
    me = turbines.actor("admin")
    stream, answer = turbines.chat.ask(me, "turbines", QUESTION, options=AskOptions(model="inventor"))
    "".join(stream)
    assert answer.mode is AnswerMode.GENERATIVE and answer.grounding is not None
    assert not answer.grounding.grounded and "75469" in answer.grounding.unsupported
    _, [_, saved] = turbines.chat.conversation(me, answer.conversation_id)
    assert saved.grounding == answer.grounding and saved.mode == "generative"
    assert [c.supported for c in saved.citations] == [False]  # [1] does not hold 75469: not shown as a citation
    assert "Not supported by the sources:** 1 figure in this answer does not appear in the sources: 75469." in (
        turbines.chat.export(me, answer.conversation_id)
    )
    [chat] = [e for e in turbines.catalog.usage() if e.kind == "chat"]
    assert chat.grounded is False


def test_a_truthful_answer_is_grounded(turbines: Workbench) -> None:
    stream, answer = turbines.chat.ask(
        turbines.actor("admin"), "turbines", QUESTION, options=AskOptions(model="truthful")
    )
    "".join(stream)
    assert answer.grounding is not None and answer.grounding.grounded and answer.citations[0].supported


def test_offline_the_default_quotes_the_right_figure_and_page(turbines: Workbench) -> None:
    stream, answer = turbines.chat.ask(turbines.actor("admin"), "turbines", QUESTION)
    text = "".join(stream)
    assert answer.mode is AnswerMode.EXTRACTIVE and answer.model == "extractive"
    assert text.startswith("From the documents:") and "0.4 millimetres" in text
    assert answer.grounding is not None and answer.grounding.grounded
    assert answer.citations and answer.citations[0].page == 2 and answer.citations[0].supported


def test_an_unrelated_question_is_refused_without_a_model_or_citations(turbines: Workbench) -> None:
    stream, answer = turbines.chat.ask(
        turbines.actor("admin"),
        "turbines",
        "What is a good recipe for banana bread?",
        options=AskOptions(model="inventor"),
    )
    text = "".join(stream)
    assert answer.refused and not answer.citations and not answer.retrieved and "do not seem to say" in text
    assert not [e for e in turbines.catalog.usage() if e.kind == "chat" and e.model == "inventor" and e.prompt_tokens]


def test_ask_json_prints_the_check_at_the_top(
    turbines: Workbench, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_MODELS_FILE", str(turbines.settings.models_file))
    data_dir = ["--data-dir", str(turbines.settings.data_dir)]
    base = ["ask", "turbines", QUESTION, "--json", "--new", *data_dir]
    assert main([*base, "--model", "inventor"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["grounded"] is False and "75469" in printed["unsupported"]
    assert printed["refused"] is False and printed["mode"] == "generative"
    assert main(base) == 0
    offline = json.loads(capsys.readouterr().out)
    assert offline["grounded"] is True and offline["mode"] == "extractive" and "0.4" in offline["answer"]


def test_a_store_minimum_can_be_lowered_to_answer_anyway(turbines: Workbench) -> None:
    me = turbines.actor("admin")
    options = AskOptions(model="truthful", search=SearchOptions(min_relevance=0.0))
    stream, answer = turbines.chat.ask(me, "turbines", "What is a good recipe for banana bread?", options=options)
    "".join(stream)
    assert not answer.refused


def test_a_cited_pdf_page_is_shown_as_the_page_with_the_passage_outlined(turbines: Workbench) -> None:
    import io

    from PIL import Image

    from core.originals import OUTLINE

    me = turbines.actor("admin")
    [document] = turbines.documents.of(me, "turbines")
    passage = turbines.documents.chunks(me, "turbines", document.id)[1].text
    outlined = turbines.documents.page_image(me, "turbines", document.id, 2, passage=passage)
    plain = turbines.documents.page_image(me, "turbines", document.id, 2)
    assert outlined is not None and plain is not None and outlined.startswith(b"\x89PNG")

    def orange(png: bytes) -> int:
        return sum(1 for pixel in Image.open(io.BytesIO(png)).convert("RGB").getdata() if pixel == OUTLINE)

    assert orange(outlined) > 100 and orange(plain) == 0
    assert turbines.documents.page_image(me, "turbines", document.id, 99) is None  # no such page
    turbines.documents.delete(me, "turbines", document.id)
    assert not list((turbines.settings.data_dir / "originals").rglob("*.pdf"))  # the original went with it
    with pytest.raises(NotFound):
        turbines.documents.page_image(me, "turbines", document.id, 2)
