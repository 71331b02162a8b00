"""Evaluation on a small generated question set whose answers are known: metrics, files, saved sets, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound
from core.evaluation import Question, read_questions, score, write_questions
from core.ingest import Upload
from core.options import SearchOptions
from core.records import Hit
from core.workbench import Workbench
from tests.conftest import ROOT, filing_pages, make_pdf

# filing_pages: page 1 revenue, 2 Rotterdam warehouse, 3 zebras, 4 headcount, 5 dividend
QUESTIONS = [
    Question("When do zebras migrate across the Serengeti?", "report.pdf", (3,)),
    Question("How many employees at the end of the fiscal year?", "report", (4,)),
    Question("What dividend per share did the board approve?", "report.pdf", (5,)),
    Question("Which warehouse handles European spare parts shipments?", "report.pdf", (2,)),
    Question("Where do the zebras graze?", "notes.txt"),  # a document-level question
]


@pytest.fixture
def kb(workbench: Workbench) -> Workbench:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("report.pdf", make_pdf(filing_pages(5))), Upload("notes.txt", b"The zebras graze near the river.")],
    )
    return workbench


def hit(filename: str, page: int | None, text: str = "") -> Hit:
    return Hit(store="kb", document_id=filename, filename=filename, text=text, chunk_index=0, start=0, end=0, score=1.0,
               page=page)  # fmt: skip


def test_scores_count_each_relevant_page_once() -> None:
    question = Question("q", "a.pdf", (3, 4))
    hits = [hit("b.pdf", 3), hit("a.pdf", 3), hit("a.pdf", 3), hit("a.pdf", 4), hit("a.pdf", 9)]
    result = score(question, hits, k=5)
    assert result.first_relevant == 2 and result.document_rank == 2 and result.reciprocal_rank == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert result.ndcg == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)  # the second page-3 hit adds 0
    assert score(question, hits, k=1).first_relevant is None  # k cuts the list


def test_several_documents_may_each_answer_and_each_counts_once() -> None:
    question = Question("q", "a.txt|b.txt")  # as in BEIR judgements: two relevant abstracts
    hits = [hit("c.txt", None), hit("b.txt", None), hit("b.txt", None), hit("a.txt", None)]
    result = score(question, hits, k=4)
    assert result.first_relevant == 2 and result.document_rank == 2
    ideal = 1 + 1 / math.log2(3)
    assert result.ndcg == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)  # b once, then a


def test_an_expected_text_must_be_in_the_chunk() -> None:
    question = Question("q", "a.pdf", text="revenue grew by twelve percent")
    assert score(question, [hit("a.pdf", 1, "Other words entirely.")], k=5).first_relevant is None
    assert score(question, [hit("a.pdf", 1, "Revenue grew by twelve percent in Europe.")], k=5).first_relevant == 1


def test_known_answers_are_found_and_a_wrong_page_is_a_miss(kb: Workbench) -> None:
    settings = {"vector": SearchOptions(mode="vector"), "fulltext": SearchOptions(mode="fulltext")}
    progress: list[tuple[int, int]] = []
    result = kb.evaluations.run(
        kb.actor("admin"), "kb", QUESTIONS, settings, k=3, on_progress=lambda d, t: progress.append((d, t))
    )
    assert progress[-1] == (10, 10) and len(progress) == 10
    for setting in result.results:
        assert setting.recall == 1.0 and setting.document_recall == 1.0, setting.name
        ranks = [q.first_relevant or 0 for q in setting.questions]
        assert ranks[0] in (1, 2)  # the zebra page (the zebra note may come first)
        assert setting.mrr == pytest.approx(sum(1 / r for r in ranks) / len(ranks))
    wrong = [Question("What dividend per share did the board approve?", "report.pdf", (1,))]
    missed = kb.evaluations.run(kb.actor("admin"), "kb", wrong, {"vector": SearchOptions(mode="vector", top_k=1)})
    assert missed.results[0].recall == 0.0 and missed.results[0].document_recall == 1.0
    assert missed.k == 1


def test_differences_list_the_questions_one_setting_misses(kb: Workbench) -> None:
    hard = [Question("Where do the zebras graze?", "notes.txt"), *QUESTIONS[:1]]
    settings = {"top1": SearchOptions(mode="fulltext", top_k=1), "none": SearchOptions(threshold=99.0)}
    result = kb.evaluations.run(kb.actor("admin"), "kb", hard, settings)
    rows = result.differences()
    assert rows and all(r["none"] == "missed" and r["top1"] == 1 for r in rows)


def test_question_files_in_csv_and_jsonl_and_their_errors() -> None:
    csv_text = "question,document,pages\nWhen do zebras migrate?,report.pdf,3;4\nWho?,notes.txt,\n"
    questions = read_questions(csv_text.encode(), "set.csv")
    assert questions[0].pages == (3, 4) and questions[1].pages == ()
    financebench = {
        "question": "Capex?",
        "doc_name": "3M_2018_10K",
        "evidence": [{"doc_name": "3M_2018_10K", "page": 60}],
    }
    [fb] = read_questions(json.dumps(financebench).encode(), "q.jsonl")
    assert fb.document == "3M_2018_10K" and fb.pages == (60,)
    assert read_questions(write_questions(questions), "again.jsonl") == questions
    for data, name, message in [
        (b"query,doc\nx,y\n", "bad.csv", "columns question and document"),
        (b'{"question": "x"}\n', "bad.jsonl", "needs both a question and the document"),
        (b"not json\n", "bad.jsonl", "not valid JSON"),
        (b"question,document,pages\nx,y,three\n", "bad.csv", "pages are numbers"),
        (b"", "empty.csv", "header row"),
        (b"\xff\xfe", "odd.csv", "not UTF-8"),
        (b"x", "set.xlsx", ".csv or .jsonl"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            read_questions(data, name)


def test_a_question_set_is_saved_with_the_store_and_goes_with_it(kb: Workbench) -> None:
    kb.evaluations.save(kb.actor("admin"), "kb", "filings", QUESTIONS)
    assert [s["name"] for s in kb.evaluations.sets(kb.actor("admin"), "kb")] == ["filings"]
    assert kb.evaluations.get(kb.actor("admin"), "kb", "filings") == QUESTIONS
    kb.evaluations.save(kb.actor("admin"), "kb", "filings", QUESTIONS[:2])  # saved again: replaced
    assert kb.evaluations.sets(kb.actor("admin"), "kb")[0]["questions"] == 2
    with pytest.raises(InvalidInput, match="line breaks"):
        kb.evaluations.save(kb.actor("admin"), "kb", "bad\nname", QUESTIONS)
    kb.evaluations.delete(kb.actor("admin"), "kb", "filings")
    with pytest.raises(NotFound, match="no question set"):
        kb.evaluations.get(kb.actor("admin"), "kb", "filings")
    kb.evaluations.save(kb.actor("admin"), "kb", "filings", QUESTIONS)
    kb.stores.delete(kb.actor("admin"), "kb")
    kb.stores.create(kb.actor("admin"), "kb")
    assert kb.evaluations.sets(kb.actor("admin"), "kb") == []


def test_eval_command_prints_metrics_and_json(kb: Workbench, tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_bytes(write_questions(QUESTIONS))
    env = {"WORKBENCH_DATA_DIR": str(kb.settings.data_dir), "WORKBENCH_SECRETS_FILE": str(tmp_path / "none.toml")}
    command = [sys.executable, "-m", "core", "eval", "kb", str(questions), "--mode", "vector", "--top-k", "3"]
    shown = subprocess.run([*command, "--compare", "mode=fulltext"], cwd=ROOT, env={**_env(), **env},
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "recall@3" in shown.stdout and "MRR@3" in shown.stdout and "nDCG@3" in shown.stdout
    assert "mode=fulltext" in shown.stdout and "1.00" in shown.stdout
    data = subprocess.run([*command, "--json"], cwd=ROOT, env={**_env(), **env}, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    report = json.loads(data.stdout)
    assert report["k"] == 3 and report["settings"][0]["recall@3"] == 1.0
    assert report["settings"][0]["questions"][1]["first_relevant"] == 1  # the headcount page
    missing = subprocess.run([sys.executable, "-m", "core", "eval", "kb", str(tmp_path / "nope.csv")], cwd=ROOT,
                             env={**_env(), **env}, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "nope.csv" in missing.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_answers_are_evaluated_for_the_key_fact_the_evidence_page_grounding_and_refusal(workbench) -> None:  # type: ignore[no-untyped-def]
    from core.options import AnswerMode, AskOptions, SearchOptions

    me = workbench.actor("admin")
    workbench.stores.create(me, "notes")
    workbench.documents.ingest(me, "notes", [
        Upload("sales.txt", b"(in millions) 2016 2017\nTotal net sales 135,987 177,866\nThe company opened 12 new warehouses."),
        Upload("hr.txt", b"Headcount reached 4,200 employees at the end of the fiscal year."),
    ])  # fmt: skip
    questions = read_questions(
        b'{"question": "What were total net sales in 2017?", "document": "sales.txt", "answer": "$177,866 million"}\n'
        b'{"question": "How did total net sales change from 2016 to 2017?", "document": "sales.txt", "answer": "30.8%"}\n'
        b'{"question": "What is the recipe for banana bread?", "document": "sales.txt", "answer": "flour"}\n',
        "answers.jsonl",
    )
    assert questions[0].answer == "$177,866 million"
    assert read_questions(write_questions(questions), "again.jsonl") == questions
    quoted = AskOptions(mode=AnswerMode.EXTRACTIVE, search=SearchOptions(min_relevance=0.0))  # scoring, not refusal
    result = workbench.evaluations.run_answers(me, "notes", questions, {"quoted": quoted})
    [row] = result.table()
    assert row["setting"] == "quoted" and row["refused"] == round(1 / 3, 3)
    first, change, banana = result.results[0].questions
    assert first.key_fact and first.cites_evidence and first.grounded and not first.refused
    assert change.key_fact and change.computed and change.grounded  # 30.8% computed from the quoted row
    assert banana.refused and banana.key_fact is False and not banana.cites_evidence
    assert workbench.chat.conversations(me) == []  # an evaluation keeps no conversation


def test_a_key_fact_is_a_figure_of_the_expected_answer_or_most_of_its_words() -> None:
    from core.answer_evaluation import holds_key_fact

    assert holds_key_fact("$1577.00", "Purchases of PP&E (1,577) (1,373)")
    assert not holds_key_fact("$1577.00", "Purchases of PP&E (1,373)")
    assert holds_key_fact("Customer deposits", "The largest liability was customer deposits of $110 billion.")
    assert not holds_key_fact("Customer deposits", "The largest liability was long-term debt.")
    assert holds_key_fact("", "anything") is None
