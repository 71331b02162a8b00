"""Rebuilding a store with another embedding model: searchable throughout, switched only when complete."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from core.ingest import Upload
from core.options import Mode, SearchOptions
from core.rebuild import RebuildProgress
from core.workbench import Workbench
from tests.conftest import filing_pages, make_pdf

VECTOR = SearchOptions(mode=Mode.VECTOR, top_k=3)


class Stop(BaseException):
    """The user left the page midway."""


def test_a_rebuild_switches_model_and_vectors_when_complete(workbench: Workbench, fake_embedding_provider: str) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("filing.pdf", make_pdf(filing_pages(8))), Upload("a.txt", b"Pump repair steps.")],
    )
    old = workbench.stores.get(workbench.actor("admin"), "kb")
    seen: list[RebuildProgress] = []
    rebuilt = workbench.stores.rebuild(workbench.actor("admin"), "kb", fake_embedding_provider, on_progress=seen.append)
    assert (rebuilt.embedding_model, rebuilt.embedding_dim) == (fake_embedding_provider, 16)
    assert (
        seen[-1].done == seen[-1].total == workbench.stores.visible(workbench.actor("admin"))[0].chunks
        and seen[-1].share == 1.0
    )
    lance = workbench.services.backend("lancedb")
    assert lance.count(rebuilt.collection) == seen[-1].total
    with pytest.raises(NotFound):
        lance.count(old.collection)  # the old vectors are gone
    hits = workbench.search.run(workbench.actor("admin"), "kb", "Pump repair steps.", options=VECTOR)
    assert hits[0].filename == "a.txt" and hits[0].score == pytest.approx(1.0, abs=1e-5)  # the same text: cosine 1


def test_a_rebuild_stopped_midway_leaves_the_store_as_it_was(
    workbench: Workbench, fake_embedding_provider: str
) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("filing.pdf", make_pdf(filing_pages(8)))])
    before = workbench.stores.get(workbench.actor("admin"), "kb")

    def leave(progress: RebuildProgress) -> None:
        raise Stop

    with pytest.raises(Stop):
        workbench.stores.rebuild(workbench.actor("admin"), "kb", fake_embedding_provider, on_progress=leave)
    assert workbench.stores.get(workbench.actor("admin"), "kb") == before
    assert (
        workbench.search.run(workbench.actor("admin"), "kb", "Zebras migrate across the Serengeti", options=VECTOR)[
            0
        ].page
        == 3
    )
    assert workbench.services.backend("lancedb").count(before.collection) > 0


def test_rebuilding_with_the_same_model_is_refused(workbench: Workbench) -> None:
    from core.errors import InvalidInput

    workbench.stores.create(workbench.actor("admin"), "kb")
    with pytest.raises(InvalidInput, match="already uses"):
        workbench.stores.rebuild(workbench.actor("admin"), "kb", "local/all-minilm-l6-v2")
