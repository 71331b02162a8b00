"""How the Evaluate page shows answers scored against the expected ones."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.answer_evaluation import AnswerEvaluation
from core.errors import WorkbenchError
from core.evaluation import Question
from core.options import AnswerMode, AskOptions, SearchOptions
from core.records import Actor
from core.workbench import Workbench
from ui.session import fail

MEASURES = ("key fact", "evidence cited", "grounded", "computed and verified", "refused")


def evaluated_answers(
    wb: Workbench, me: Actor, store: str, questions: list[Question], search: SearchOptions, modes: list[str]
) -> None:
    """Ask the questions in each answer mode with a progress bar, then show the scores."""
    settings = {mode: AskOptions(mode=AnswerMode(mode), search=search) for mode in modes}
    bar = st.progress(0.0, text="Asking the questions…")
    try:
        result = wb.evaluations.run_answers(me, store, questions, settings,
                                            on_progress=lambda done, total: bar.progress(done / total, text=f"{done} of {total} answers"))  # fmt: skip
    except WorkbenchError as exc:
        fail(exc)
    bar.empty()
    shown(result)


def shown(result: AnswerEvaluation) -> None:
    """A bar per measure and answer mode, the table, and every answer under an expander."""
    st.subheader("Answers")
    table = pd.DataFrame(result.table())
    long = table.melt(id_vars="setting", value_vars=[m for m in MEASURES if m in table.columns], var_name="measure")
    chart = alt.Chart(long.dropna()).mark_bar().encode(
        x=alt.X("measure:N", title=None, sort=list(MEASURES), axis=alt.Axis(labelAngle=0)), xOffset="setting:N",
        y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="share of the questions"),
        color=alt.Color("setting:N", title="answer mode"), tooltip=list(long.columns),
    )  # fmt: skip
    st.altair_chart(chart, width="stretch")
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "Key fact: the answer states a figure of the expected answer (or most of its words); evidence cited: it "
        "cites an expected page (or the document); computed and verified: it derives a figure whose working the "
        "check redid from the cited sources."
    )
    with st.expander("Every answer, per mode"):
        for setting in result.results:
            st.dataframe(pd.DataFrame([{"mode": setting.name, "question": q.question.question, "expected": q.question.answer,
                                        "key fact": q.key_fact, "evidence cited": q.cites_evidence, "grounded": q.grounded,
                                        "refused": q.refused, "answer": q.answer} for q in setting.questions]),
                         hide_index=True, width="stretch")  # fmt: skip
