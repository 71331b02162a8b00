"""Tabs of the Stores page an owner sees: the embedding model (rebuild with another), privacy (keep personal data
from remote models) and the store's glossary of analyst measures."""

from __future__ import annotations

import streamlit as st

from core import glossary
from core.errors import WorkbenchError
from core.records import Actor, Store
from core.workbench import Workbench
from core.workbench.stores import StoreSummary
from ui.html import plain


def embedding_tab(wb: Workbench, me: Actor, summary: StoreSummary) -> None:
    store = summary.store
    st.write(f"'{plain(store.name)}' is embedded with **{plain(store.embedding_model)}** ({store.embedding_dim} dimensions).")  # fmt: skip
    others = [m for m in wb.models.choices(me, "embedding") if m != store.embedding_model]
    if not others:
        st.caption("No other embedding model is configured; add one to models.yaml to rebuild with it.")
        return
    target = st.selectbox("Rebuild with", others, key="rebuild_model")
    st.caption("Every chunk is embedded again; searches keep using the current vectors until it is complete.")
    if st.button("Rebuild", key="rebuild"):
        bar = st.progress(0.0, text="Re-embedding…")
        try:
            wb.stores.rebuild(me, store.name, target, on_progress=lambda p: bar.progress(p.share, text=f"{p.done:,} of {p.total:,} chunks"))  # fmt: skip
            st.success(f"'{plain(store.name)}' now uses {plain(target)}.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))


def privacy_tab(wb: Workbench, me: Actor, store: Store) -> None:
    st.write(
        "Replace e-mail addresses, phone numbers, card numbers, IBANs and national identifiers with a label "
        "(such as [email]) in every text this store sends to a **remote** model: its documents when they are "
        "embedded, questions, the passages an answer is written from, reranking. The bundled local models read "
        "everything as it is, since nothing they read leaves this machine. What was replaced is counted in the "
        "usage records; administrators see every remote call on the Audit page."
    )
    on = st.toggle("Keep personal data from remote models", value=store.redact_personal_data, key="redact_toggle")
    if on != store.redact_personal_data:
        try:
            wb.stores.set_redaction(me, store.name, on)
            st.toast("Personal data is now replaced before it leaves." if on else "Texts now leave as they are.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
    if store.redact_personal_data or on:
        st.caption("Images sent to a vision model are sent as they are: only text can be redacted.")


OCR_CHOICES = {"": "The server's setting", "auto": "Pages without text, and images (auto)",
               "always": "Every page", "never": "Never"}  # fmt: skip


def scans_tab(wb: Workbench, me: Actor, store: Store) -> None:
    st.write(
        "Scanned pages (a page that is a picture, with almost no text) and pictures of pages are read offline by OCR. "
        "The document's status says which pages were read so, and flags the ones read with low confidence."
    )
    mode = st.selectbox("Read by OCR", list(OCR_CHOICES), list(OCR_CHOICES).index(store.ocr),
                        format_func=OCR_CHOICES.__getitem__, key="ocr_mode")  # fmt: skip
    if mode != store.ocr:
        try:
            wb.stores.set_ocr(me, store.name, mode)
            st.toast("Saved: files added from now on are read so.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))


def glossary_tab(wb: Workbench, me: Actor, store: Store) -> None:
    st.write(
        "Measures your analysts ask for by a name the documents do not print. A question naming one is also searched "
        "in its line items' words, and the search card says which measure found a hit. Built in: capex, free cash "
        "flow, EBITDA, quick and current ratio, working capital, margins, DSO/DPO, turnover ratios, ROA/ROE, "
        "effective tax rate and more. Add your own, one per line."
    )
    text = st.text_area(
        "Measure = line item; line item", value=glossary.format_terms(store.glossary), key="glossary_text",
        placeholder="ARR = annual recurring revenue; subscription revenue", height=140,
    )  # fmt: skip
    if st.button("Save glossary", key="glossary_save"):
        try:
            saved = wb.stores.set_glossary(me, store.name, text)
            st.toast(f"'{plain(saved.name)}' has {len(saved.glossary)} measure(s) of its own.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
