"""Operations as a user sees them: who may see and do what, and the errors for everything else."""

from __future__ import annotations

import pytest

from core.errors import EmbeddingMismatch, InvalidInput, NotFound, PermissionDenied
from core.ingest import Upload
from core.options import SearchOptions
from core.records import Role
from core.workbench import Workbench


@pytest.fixture
def team(workbench: Workbench) -> Workbench:
    workbench.users.add(workbench.actor("admin"), "alice")
    workbench.users.add(workbench.actor("admin"), "bob")
    workbench.stores.create(workbench.actor("alice"), "alice-kb")
    workbench.documents.ingest(
        workbench.actor("alice"), "alice-kb", [Upload("notes.txt", b"The launch is planned for the third of May.")]
    )
    return workbench


def test_a_store_you_may_not_see_does_not_exist_for_you(team: Workbench) -> None:
    assert [s.store.name for s in team.stores.visible(team.actor("bob"))] == []
    with pytest.raises(NotFound, match="no store named 'alice-kb'"):
        team.search.run(team.actor("bob"), "alice-kb", "launch")
    with pytest.raises(NotFound):
        team.stores.delete(team.actor("bob"), "alice-kb")


def test_grants_open_the_store_as_far_as_the_role_allows(team: Workbench) -> None:
    team.stores.grant(team.actor("alice"), "alice-kb", "bob", Role.READ)
    assert team.search.run(team.actor("bob"), "alice-kb", "When is the launch?")[0].filename == "notes.txt"
    with pytest.raises(PermissionDenied, match="You may only read .alice-kb.; ask its owner to make you an editor"):
        team.documents.ingest(team.actor("bob"), "alice-kb", [Upload("b.txt", b"bob's text")])
    with pytest.raises(PermissionDenied):
        team.stores.grant(team.actor("bob"), "alice-kb", "bob", Role.OWNER)
    team.stores.grant(team.actor("alice"), "alice-kb", "bob", Role.WRITE)
    assert team.documents.ingest(team.actor("bob"), "alice-kb", [Upload("b.txt", b"bob's text")])[0].chunks == 1


def test_admin_sees_everything_and_only_admins_add_users(team: Workbench) -> None:
    summary = team.stores.visible(team.actor("admin"))[0]
    assert (summary.store.name, summary.documents, summary.chunks, summary.role) == ("alice-kb", 1, 1, Role.OWNER)
    with pytest.raises(PermissionDenied):
        team.users.add(team.actor("alice"), "mallory")
    with pytest.raises(PermissionDenied, match="no user named 'ghost'"):
        team.stores.visible(team.actor("ghost"))


def test_deleting_a_store_removes_its_vectors(team: Workbench) -> None:
    store = team.stores.get(team.actor("admin"), "alice-kb")
    team.stores.delete(team.actor("alice"), "alice-kb")
    assert team.stores.visible(team.actor("admin")) == []
    with pytest.raises(NotFound):
        team.services.backend("lancedb").count(store.collection)
    team.stores.create(team.actor("admin"), "alice-kb")  # the name is free again, with an empty store
    assert team.search.run(team.actor("admin"), "alice-kb", "launch") == []


def test_querying_with_another_embedding_model_is_refused(team: Workbench) -> None:
    with pytest.raises(
        EmbeddingMismatch,
        match=r"built with local/all-minilm-l6-v2 .* cannot be searched with openai/text-embedding-3-small",
    ):
        team.search.run(team.actor("admin"), "alice-kb", "launch", embedding="openai/text-embedding-3-small")
    assert team.search.run(team.actor("admin"), "alice-kb", "launch", embedding="local/all-minilm-l6-v2")


@pytest.mark.parametrize("top_k", [0, 51, -3])
def test_top_k_outside_1_to_50_is_refused(top_k: int) -> None:
    with pytest.raises(InvalidInput, match="between 1 and 50"):
        SearchOptions(top_k=top_k)


def test_blank_query_asks_for_words_and_no_match_is_empty(team: Workbench) -> None:
    with pytest.raises(InvalidInput, match="Type something"):
        team.search.run(team.actor("admin"), "alice-kb", "   ")
    team.stores.create(team.actor("admin"), "empty")
    assert team.search.run(team.actor("admin"), "empty", "anything at all") == []


def test_top_k_returns_at_most_k_best_first(team: Workbench) -> None:
    team.documents.ingest(
        team.actor("admin"),
        "alice-kb",
        [Upload(f"n{i}.txt", f"Note {i}: the launch moved by {i} days.".encode()) for i in range(8)],
    )
    hits = team.search.run(team.actor("admin"), "alice-kb", "launch date", options=SearchOptions(top_k=3))
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(team.search.run(team.actor("admin"), "alice-kb", "launch date", options=SearchOptions(top_k=50))) == 9


def test_unknown_backend_and_model_are_explained(workbench: Workbench) -> None:
    from core.errors import BackendUnavailable, ModelError

    with pytest.raises(BackendUnavailable, match="Unknown storage backend 'pinecone'"):
        workbench.stores.create(workbench.actor("admin"), "kb", backend="pinecone")
    with pytest.raises(ModelError, match="no bundled embedding model"):
        workbench.stores.create(workbench.actor("admin"), "kb", embedding="local/unknown")
    assert workbench.stores.visible(workbench.actor("admin")) == []


def test_warm_up_loads_the_stores_models_and_survives_a_missing_catalog(
    workbench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    assert workbench.warm_up() == ["local/all-minilm-l6-v2"]

    def gone() -> list[object]:
        raise OSError("the catalog's folder was removed")

    monkeypatch.setattr(workbench.catalog, "list_stores", gone)
    assert workbench.warm_up() == []  # logged, never raised: it runs in a background thread
