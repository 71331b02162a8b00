"""Editors disable, enable and edit single chunks: searches follow at once, and who did it is recorded."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput, NotFound, PermissionDenied
from core.ingest import Upload
from core.options import Mode, SearchOptions, Unit
from core.records import Role
from core.workbench import Workbench

NOTES = [
    Upload("pumps.txt", b"The coolant pump failed twice in March."),
    Upload("turbines.txt", b"The turbine blades were replaced in June."),
]
CHUNKS = SearchOptions(unit=Unit.CHUNK, top_k=10)


@pytest.fixture
def kb(workbench: Workbench) -> Workbench:
    admin = workbench.actor("admin")
    workbench.users.add(admin, "ed", password="correct horse battery")
    workbench.users.add(admin, "vic", password="correct horse battery")
    workbench.stores.create(admin, "kb")
    workbench.stores.grant(admin, "kb", "ed", Role.EDITOR)
    workbench.stores.grant(admin, "kb", "vic", Role.VIEWER)
    workbench.documents.ingest(admin, "kb", NOTES)
    return workbench


def _pump(wb: Workbench) -> str:
    return next(d.id for d in wb.documents.of(wb.actor("admin"), "kb") if d.filename == "pumps.txt")


@pytest.mark.parametrize("mode", [Mode.VECTOR, Mode.FULLTEXT, Mode.HYBRID])
def test_a_disabled_chunk_is_never_retrieved_until_enabled_again(kb: Workbench, mode: Mode) -> None:
    ed, options = kb.actor("ed"), SearchOptions(mode=mode, unit=Unit.CHUNK, top_k=10)
    found = lambda: {h.filename for h in kb.search.run(ed, "kb", "coolant pump failed", options=options)}  # noqa: E731
    assert "pumps.txt" in found()
    change = kb.documents.set_chunk_enabled(ed, "kb", _pump(kb), 0, enabled=False)
    assert (change.disabled, change.changed_by) == (True, "ed")
    assert "pumps.txt" not in found()
    assert kb.documents.changes(kb.actor("vic"), "kb", _pump(kb))[0].disabled  # a viewer sees that it is off
    kb.documents.set_chunk_enabled(ed, "kb", _pump(kb), 0, enabled=True)
    assert "pumps.txt" in found()


def test_an_edited_chunk_is_embedded_and_indexed_again(kb: Workbench) -> None:
    ed = kb.actor("ed")
    edited = kb.documents.edit_chunk(ed, "kb", _pump(kb), 0, "  The feed-water valve leaked in April.  ")
    assert edited.text == "The feed-water valve leaked in April."
    for mode in (Mode.VECTOR, Mode.FULLTEXT):
        hits = kb.search.run(ed, "kb", "feed-water valve leaked", options=SearchOptions(mode=mode, unit=Unit.CHUNK))
        assert hits[0].filename == "pumps.txt" and "valve" in hits[0].text
    assert not kb.search.run(ed, "kb", "coolant", options=SearchOptions(mode=Mode.FULLTEXT, unit=Unit.CHUNK))
    assert [c.text for c in kb.documents.chunks(ed, "kb", _pump(kb))] == ["The feed-water valve leaked in April."]
    change = kb.documents.changes(ed, "kb", _pump(kb))[0]
    assert (change.edited, change.disabled, change.changed_by) == (True, False, "ed")


def test_bad_edits_are_refused_in_plain_words_and_change_nothing(kb: Workbench) -> None:
    ed = kb.actor("ed")
    with pytest.raises(InvalidInput, match="cannot be empty; disable it instead"):
        kb.documents.edit_chunk(ed, "kb", _pump(kb), 0, "   ")
    with pytest.raises(InvalidInput, match="at most 20,000 characters"):
        kb.documents.edit_chunk(ed, "kb", _pump(kb), 0, "x" * 20_001)
    with pytest.raises(NotFound, match="no chunk 8"):
        kb.documents.set_chunk_enabled(ed, "kb", _pump(kb), 7, enabled=False)
    with pytest.raises(PermissionDenied):
        kb.documents.edit_chunk(kb.actor("vic"), "kb", _pump(kb), 0, "A viewer's rewrite.")
    assert [c.text for c in kb.documents.chunks(ed, "kb", _pump(kb))] == ["The coolant pump failed twice in March."]
    assert kb.documents.changes(ed, "kb", _pump(kb)) == {}


def test_a_file_is_checked_before_it_is_added_in_plain_words(kb: Workbench) -> None:
    from tests.conftest import make_pdf

    ed = kb.actor("ed")
    assert kb.documents.check(ed, "fine.pdf", make_pdf(["Quarterly revenue grew."])) is None
    assert "is not a PDF" in (kb.documents.check(ed, "broken.pdf", b"this is no PDF") or "")
    assert "contains no text" in (kb.documents.check(ed, "blank.txt", b"   \n  ") or "")
    assert "Windows programs (.exe) cannot be added" in (kb.documents.check(ed, "setup.exe", b"MZ") or "")


def test_chunk_settings_can_differ_per_file_and_per_type(kb: Workbench) -> None:
    from core.options import ChunkSettings, IngestOptions

    long_text = ("Sentence about budgets and plans for the coming year. " * 40).encode()
    options = IngestOptions(
        chunking_for={"small.txt": ChunkSettings(size=200, overlap=0), ".md": ChunkSettings(size=1500, overlap=0)}
    )
    uploads = [
        Upload("small.txt", long_text),
        Upload("other.txt", long_text + b" "),
        Upload("notes.md", long_text + b"  "),
    ]
    results = {r.filename: r.chunks for r in kb.documents.ingest(kb.actor("ed"), "kb", uploads, options=options)}
    assert results["small.txt"] > results["other.txt"] > results["notes.md"], results  # 200 < 512 (default) < 1500
