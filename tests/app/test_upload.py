"""Upload page: the preview follows the settings, ingest reports each file; a viewer gets no upload controls."""

from __future__ import annotations

import pytest

from core.errors import PermissionDenied
from core.ingest import Upload
from core.records import Role
from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as, texts
from tests.conftest import filing_pages, make_docx, make_pdf, make_xlsx


@pytest.fixture
def team(workbench: Workbench) -> Workbench:
    workbench.users.create_first_admin("admin", PASSWORD)
    for name in ("olivia", "vic"):
        workbench.users.add(workbench.actor("admin"), name, password=PASSWORD)
    workbench.stores.create(workbench.actor("olivia"), "finance")
    workbench.stores.grant(workbench.actor("olivia"), "finance", "vic", Role.VIEWER)
    return workbench


def _plan(at):  # type: ignore[no-untyped-def]
    return next(d.value for d in at.dataframe if "Will be" in d.value.columns)


def _metric(at, label: str) -> str:  # type: ignore[no-untyped-def]
    return next(m.value for m in at.metric if m.label == label)


def test_the_preview_reacts_to_the_chunk_settings_and_ingest_reports_each_file(team: Workbench) -> None:
    at = page_as(team, "upload", "olivia").run()
    assert [u.key for u in at.get("file_uploader")] == ["upload_files"]  # the drop zone is drawn
    files = [
        ("report.pdf", make_pdf(filing_pages(10)), "application/pdf"),
        (
            "policy.docx",
            make_docx(lambda d: d.add_paragraph("Hotels up to 180 EUR a night.")),
            "application/octet-stream",
        ),
        (
            "numbers.xlsx",
            make_xlsx({"Q1": [["item", "eur"], ["rent", 1200], ["travel", 300]]}),
            "application/octet-stream",
        ),
    ]
    widget = at.file_uploader(key="upload_files")
    for name, data, mime in files:
        widget.upload(name, data, mime)
    at.run()
    assert not at.exception
    large = int(_metric(at, "Chunks"))
    at.slider(key="preview_size_report.pdf").set_value(150).run()
    small = int(_metric(at, "Chunks"))
    assert small > large and "chunks of 150 characters" in texts(at)
    plan = _plan(at).set_index("File")["Chunking"].to_dict()
    assert plan["report.pdf"].endswith("150/50 characters (this file)")  # the preview's settings: this file only
    assert plan["policy.docx"].endswith("(store default)") and plan["numbers.xlsx"].endswith("(store default)")
    at.button(key="ingest").click().run()
    assert not at.exception and "3 added, 0 already there, 0 failed." in texts(at)
    assert sorted(d.filename for d in team.documents.of(team.actor("olivia"), "finance")) == [
        "numbers.xlsx",
        "policy.docx",
        "report.pdf",
    ]
    assert {
        d.chunk_count for d in team.documents.of(team.actor("olivia"), "finance") if d.filename == "report.pdf"
    } == {small}


def test_a_viewer_gets_no_upload_controls_and_core_refuses_anyway(team: Workbench) -> None:
    at = page_as(team, "upload", "vic").run()
    assert not at.exception and "You may add files to no store yet" in texts(at)
    assert not at.get("file_uploader")
    with pytest.raises(PermissionDenied):
        team.documents.ingest(team.actor("vic"), "finance", [Upload("x.txt", b"sneaky")])


def test_files_go_to_the_store_chosen(team: Workbench) -> None:
    team.stores.create(team.actor("olivia"), "travel")
    at = page_as(team, "upload", "olivia").run()
    at.selectbox(key="upload_store").set_value("travel").run()
    at.file_uploader(key="upload_files").upload("note.txt", b"Hotels are reimbursed up to 180 EUR.", "text/plain")
    at.run()
    at.button(key="ingest").click().run()
    assert not at.exception and [d.filename for d in team.documents.of(team.actor("olivia"), "travel")] == ["note.txt"]
    assert team.documents.of(team.actor("olivia"), "finance") == []


def test_a_refused_file_is_named_in_words_and_the_others_still_go_in(team: Workbench) -> None:
    at = page_as(team, "upload", "olivia").run()
    widget = at.file_uploader(key="upload_files")
    widget.upload("setup.exe", b"MZ\x90\x00 not a document", "application/x-ms-dos-executable")
    widget.upload("![x](http:__127.0.0.1_x.png).zip", b"PK\x03\x04", "application/zip")
    widget.upload("note.txt", b"Hotels are reimbursed up to 180 EUR.", "text/plain")
    at.run()
    assert not at.exception
    said = at.error[0].value
    assert said.startswith("setup\\.exe\\: Windows programs \\(\\.exe\\) cannot be added\\.")
    assert "archives \\(\\.zip\\)" in said and "\\!\\[x\\]" in said  # a name is shown as itself, never as an image
    assert said.endswith("The other files can be added.")
    at.button(key="ingest").click().run()
    assert "1 added, 0 already there, 0 failed." in texts(at)
    assert [d.filename for d in team.documents.of(team.actor("olivia"), "finance")] == ["note.txt"]


def test_a_damaged_file_is_left_out_with_its_reason_unless_the_analyst_insists(team: Workbench) -> None:
    at = page_as(team, "upload", "olivia").run()
    widget = at.file_uploader(key="upload_files")
    widget.upload("broken.pdf", b"%PDF-1.4 this is not really a PDF", "application/pdf")
    widget.upload("note.txt", b"Hotels are reimbursed up to 180 EUR.", "text/plain")
    at.run()
    plan = _plan(at).set_index("File")
    assert plan.loc["broken.pdf", "Will be"] == "left out" and "damaged" in plan.loc["broken.pdf", "Check"]
    assert plan.loc["note.txt", "Check"] == "ready"
    assert at.button(key="ingest").label == "Add 1 file to 'finance'"
    at.checkbox(key="upload_insist").check().run()
    assert _plan(at).set_index("File").loc["broken.pdf", "Will be"] == "added anyway"
    at.button(key="ingest").click().run()
    assert "1 added, 0 already there, 1 failed." in texts(at)
    assert not at.get("button") or "ingest" not in [b.key for b in at.button]  # queued files are not offered again
    again = page_as(team, "upload", "olivia").run()  # a reload: a new session, the same uploads
    recent = next(d.value for d in again.dataframe if "What happened" in d.value.columns).set_index("File")
    assert recent.loc["note.txt", "Status"] == "Added" and recent.loc["note.txt", "What happened"].endswith("chunks")
    assert recent.loc["broken.pdf", "Status"] == "Failed" and "broken.pdf" in recent.loc["broken.pdf", "What happened"]
    assert "Recent uploads" in texts(again)
    vic = page_as(team, "upload", "vic").run()  # a viewer sees no uploads of a store they may not add to
    assert not vic.dataframe


def test_a_file_added_twice_is_said_to_be_there_already(team: Workbench) -> None:
    team.documents.ingest(
        team.actor("olivia"), "finance", [Upload("note.txt", b"Hotels are reimbursed up to 180 EUR.")]
    )
    at = page_as(team, "upload", "olivia").run()
    at.file_uploader(key="upload_files").upload("copy.txt", b"Hotels are reimbursed up to 180 EUR.", "text/plain")
    at.run()
    at.button(key="ingest").click().run()
    assert "0 added, 1 already there, 0 failed." in texts(at)
    recent = next(d.value for d in at.dataframe if "What happened" in d.value.columns).set_index("File")
    assert (
        recent.loc["copy.txt", "Status"] == "Already there"
        and "same content as note.txt" in recent.loc["copy.txt", "What happened"]
    )
