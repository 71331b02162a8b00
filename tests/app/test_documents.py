"""Documents page: the store's documents with their status, one document's chunks, and deleting (editors)."""

from __future__ import annotations

from datetime import timedelta

from core.catalog import new_id, now
from core.ingest import Upload
from core.records import Document, DocumentStatus, Role
from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as
from tests.conftest import filing_pages, make_pdf


def test_documents_their_chunks_and_deleting_one(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "vic", password=PASSWORD)
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.stores.grant(workbench.actor("admin"), "kb", "vic", Role.VIEWER)
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("report.pdf", make_pdf(filing_pages(3))), Upload("broken.pdf", b"%PDF-1.4 nonsense")],
    )
    at = page_as(workbench, "documents", "admin").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("Name")
    assert table.loc["report.pdf", "Status"] == "ready" and table.loc["report.pdf", "Pages"] == 3
    assert table.loc["broken.pdf", "Status"].startswith("failed: ")
    labels = [e.label.split(" · ")[:2] for e in at.expander if e.label.startswith("Chunk ")]
    assert len(labels) == min(table.loc["report.pdf", "Chunks"], 20) and labels[0] == ["Chunk 1", "Page 1"]
    assert labels[-1][1] == "Page 3"
    viewer = page_as(workbench, "documents", "vic").run()
    assert not viewer.exception and not [b for b in viewer.button if b.key == "delete_document"]
    choice = at.selectbox(key="delete_document_choice")
    choice.select(next(o for o in choice.options if o.startswith("report.pdf"))).run()
    at.button(key="delete_document").click().run()
    assert [d.filename for d in workbench.documents.of(workbench.actor("admin"), "kb")] == ["broken.pdf"]


def _chunk_labels(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.label for e in at.expander if e.label.startswith("Chunk ")]


def test_chunks_are_found_filtered_disabled_edited_and_opened_from_a_hit(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "vic", password=PASSWORD)
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.stores.grant(workbench.actor("admin"), "kb", "vic", Role.VIEWER)
    workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("report.pdf", make_pdf(filing_pages(30)))])
    at = page_as(workbench, "documents", "admin").run()
    total = workbench.documents.of(workbench.actor("admin"), "kb")[0].chunk_count
    assert len(_chunk_labels(at)) == 20 and f"of {total:,} chunks match" in " ".join(c.value for c in at.caption)
    at.text_input(key="chunks_find").input("Rotterdam").run()
    assert _chunk_labels(at) and all("Rotterdam" in t.value for t in at.text if "warehouse" in t.value)
    at.text_input(key="chunks_find").input("").run()
    at.multiselect(key="chunks_places").set_value(["Page 7"]).run()
    assert [label.split(" · ")[1] for label in _chunk_labels(at)] == ["Page 7"] * len(_chunk_labels(at))
    first = int(_chunk_labels(at)[0].split(" · ")[0].removeprefix("Chunk ")) - 1
    at.button(key=f"toggle_chunk_{first}").click().run()
    assert not at.exception and ":red[disabled]" in _chunk_labels(at)[0]
    assert "last changed by admin" in " ".join(c.value for c in at.caption)
    at.text_area(key=f"chunk_text_{first}").input("Our warehouse moved to Antwerp in 2026.")
    at.button(key=f"FormSubmitter:edit_chunk_{first}-Save and embed again").click().run()
    assert not at.exception, at.exception
    doc = workbench.documents.of(workbench.actor("admin"), "kb")[0]
    assert workbench.documents.chunks(workbench.actor("admin"), "kb", doc.id)[first].text.startswith(
        "Our warehouse moved"
    )
    viewer = page_as(workbench, "documents", "vic")
    viewer.session_state["documents_focus"] = {"store": "kb", "document": doc.id, "chunk": total - 1}
    viewer.run()
    assert not viewer.exception
    opened = [e for e in viewer.expander if e.label.startswith(f"Chunk {total} ")]
    assert opened and not [b for b in viewer.button if str(b.key).startswith("toggle_chunk_")]  # a viewer only reads


def test_a_store_of_many_documents_is_listed_a_page_at_a_time(workbench: Workbench) -> None:
    """The page reads the 50 documents it shows and one count, newest first; filters and paging go to the catalog."""
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.stores.create(workbench.actor("admin"), "kb")
    store = workbench.catalog.get_store("kb")
    docs = [
        Document(new_id(), store.id, f"memo-{n:03}.{'pdf' if n % 3 == 0 else 'txt'}", new_id(), 10,
                 DocumentStatus.PROCESSING, now() + timedelta(seconds=n), "admin")
        for n in range(120)
    ]  # fmt: skip
    workbench.catalog.add_documents(docs)
    workbench.catalog.mark_ready({d.id: 2 for d in docs})
    at = page_as(workbench, "documents", "admin").run()
    assert not at.exception
    assert list(at.dataframe[0].value["Name"])[:2] == ["memo-119.txt", "memo-118.txt"]
    assert len(at.dataframe[0].value) == 50 and "120 documents · 1–50, newest first" in [c.value for c in at.caption]
    at.number_input(key="documents_page").set_value(3).run()
    assert len(at.dataframe[0].value) == 20 and list(at.dataframe[0].value["Name"])[-1] == "memo-000.pdf"
    at.multiselect(key="documents_types").set_value(["pdf"]).run()  # 40 pdfs: one page, so page 3 becomes 1
    assert not at.exception and len(at.dataframe[0].value) == 40
    assert all(n.endswith(".pdf") for n in at.dataframe[0].value["Name"])
    at.text_input(key="documents_find").input("MEMO-01").run()
    assert sorted(at.dataframe[0].value["Name"]) == ["memo-012.pdf", "memo-015.pdf", "memo-018.pdf"]
    assert "3 documents match" in " ".join(c.value for c in at.caption)
