"""Evaluate: run your own questions against a store with two or more search settings and see which finds more."""

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.evaluation import Question, read_questions, write_questions
from core.options import SearchOptions
from ui.evaluation_view import evaluated_answers
from ui.html import plain
from ui.session import fail, signed_in

wb, me = signed_in()
st.title("Evaluate")
st.caption(
    "Questions with the document (and pages) that answer them: see how often each search setting finds the answer "
    "in its top results. Save the set with the store and run it again after the store changes."
)
readable = [s.store.name for s in wb.stores.visible(me)]
if not readable:
    st.info("No store to evaluate yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()
store = st.selectbox("Store", readable, key="eval_store")
SAMPLE = pd.DataFrame([{"question": "", "document": "", "pages": "", "text": "", "answer": ""}])
saved = {s["name"]: s for s in wb.evaluations.sets(me, store)}
source = st.segmented_control("Questions", ["Upload a file", "Type them", "A saved set"], default="Upload a file",
                              key="eval_source") or "Upload a file"  # fmt: skip
questions: list[Question] = []
try:
    if source == "Upload a file":
        upload = st.file_uploader("CSV (question, document, pages, text, answer) or JSON lines", type=["csv", "jsonl"],
                                  key="eval_file")  # fmt: skip
        if upload is not None:
            questions = read_questions(upload.getvalue(), upload.name)
    elif source == "Type them":
        typed = st.data_editor(SAMPLE, num_rows="dynamic", key="eval_typed", width="stretch")
        rows = typed[typed["question"].astype(str).str.strip() != ""]
        if not rows.empty:
            questions = read_questions(rows.to_csv(index=False).encode(), "typed.csv")
    elif saved:
        chosen = st.selectbox("Saved set", list(saved), key="eval_saved",
                              format_func=lambda n: f"{n} ({saved[n]['questions']} questions)")  # fmt: skip
        questions = wb.evaluations.get(me, store, chosen)
    else:
        st.info(f"'{plain(store)}' has no saved question set yet: upload or type one, then save it.")
except WorkbenchError as exc:
    st.error(plain(str(exc)))

if questions:
    st.caption(f"{len(questions)} questions.")
    name, button = st.columns([3, 1], vertical_alignment="bottom")
    set_name = name.text_input("Save this set with the store as", key="eval_set_name", placeholder="e.g. filings Q3")
    if button.button("Save set", key="eval_save", disabled=not set_name.strip()):
        try:
            wb.evaluations.save(me, store, set_name, questions)
            st.toast(f"Saved '{plain(set_name)}' with '{plain(store)}'.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
    st.download_button("Download the set", write_questions(questions), "questions.jsonl", key="eval_download")

k = st.slider("Top results that count (k)", 1, 20, 5, key="eval_k")
specs = ["mode=hybrid fusion=rrf", "mode=vector", "mode=fulltext", "mode=hybrid fusion=weighted weight=0.7", "mode=hybrid rerank=mmr"]  # fmt: skip
presets = {"saved: " + (own := wb.stores.search_defaults(me, store)).describe(): own}
presets |= {(o := SearchOptions.parse(spec)).describe(): o for spec in specs}  # each label says what it runs
chosen_settings = st.multiselect("Settings to compare", list(presets), default=list(presets)[1:3], key="eval_settings")
custom = st.text_input("Another setting (key=value ...)", key="eval_custom", placeholder="mode=vector candidates=100")
answer_modes = st.multiselect(
    "Also evaluate answers, in these modes (with the first setting's search)", ["auto", "extractive", "generative"],
    key="eval_answer_modes", help="Each question is asked through Chat; the expected answer (column 'answer') is "
    "checked for its key fact. Nothing is kept as a conversation.",
)  # fmt: skip
if not st.button(
    "Run", type="primary", key="eval_run", disabled=not questions or not (chosen_settings or custom.strip())
):
    st.stop()
try:
    settings = {n: SearchOptions.from_settings({**presets[n].settings(), "top_k": k}) for n in chosen_settings}
    if custom.strip():
        settings[custom.strip()] = SearchOptions.parse(custom, top_k=k)
    bar = st.progress(0.0, text="Running the questions…")
    result = wb.evaluations.run(me, store, questions, settings, k=k,
                                on_progress=lambda done, total: bar.progress(done / total, text=f"{done} of {total} searches"))  # fmt: skip
except WorkbenchError as exc:
    fail(exc)
bar.empty()
table = pd.DataFrame(result.table())
long = table.melt(id_vars="setting", value_vars=[c for c in table.columns if "@" in c], var_name="metric")
chart = alt.Chart(long).mark_bar().encode(x=alt.X("setting:N", title=None), y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1])),
                                          color="setting:N", column=alt.Column("metric:N", title=None), tooltip=list(long.columns))  # fmt: skip
st.altair_chart(chart)
st.dataframe(table, hide_index=True, width="stretch")
differences = result.differences()
st.subheader("Questions one setting finds and another misses")
if differences:
    st.dataframe(pd.DataFrame(differences), hide_index=True, width="stretch")
else:
    st.caption("None: every question is found by all the settings or by none.")
with st.expander("Every question, per setting"):
    for setting in result.results:
        st.markdown(f"**{plain(setting.name)}**")
        st.dataframe(pd.DataFrame([{"question": q.question.question, "document": q.question.document,
                                    "found at": q.first_relevant or "missed", "top hits": "; ".join(q.found)}
                                   for q in setting.questions]), hide_index=True, width="stretch")  # fmt: skip
if answer_modes:  # with the first setting's search
    evaluated_answers(wb, me, store, questions, next(iter(settings.values())), answer_modes)
