"""Documents page: the store's documents with their status, one document's chunks, and deleting (editors)."""

from __future__ import annotations

from core.ingest import Upload
from core.records import Role
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
    labels = [e.label.split(" · ")[:2] for e in at.expander]
    assert len(labels) == table.loc["report.pdf", "Chunks"] and labels[0] == ["Chunk 1", "Page 1"]
    assert labels[-1][1] == "Page 3"
    viewer = page_as(workbench, "documents", "vic").run()
    assert not viewer.exception and not [b for b in viewer.button if b.key == "delete_document"]
    at.selectbox(key="delete_document_choice").select_index(0).run()
    at.button(key="delete_document").click().run()
    assert [d.filename for d in workbench.documents.of(workbench.actor("admin"), "kb")] == ["broken.pdf"]
