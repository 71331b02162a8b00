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
    workbench.add_user("alice")
    workbench.add_user("bob")
    workbench.create_store("alice-kb", user="alice")
    workbench.ingest("alice-kb", [Upload("notes.txt", b"The launch is planned for the third of May.")], user="alice")
    return workbench


def test_a_store_you_may_not_see_does_not_exist_for_you(team: Workbench) -> None:
    assert [s.store.name for s in team.list_stores(user="bob")] == []
    with pytest.raises(NotFound, match="no store named 'alice-kb'"):
        team.search("alice-kb", "launch", user="bob")
    with pytest.raises(NotFound):
        team.delete_store("alice-kb", user="bob")


def test_grants_open_the_store_as_far_as_the_role_allows(team: Workbench) -> None:
    team.grant("alice-kb", "bob", Role.READ, user="alice")
    assert team.search("alice-kb", "When is the launch?", user="bob")[0].filename == "notes.txt"
    with pytest.raises(PermissionDenied, match="You may only read .alice-kb.; ask its owner to make you an editor"):
        team.ingest("alice-kb", [Upload("b.txt", b"bob's text")], user="bob")
    with pytest.raises(PermissionDenied):
        team.grant("alice-kb", "bob", Role.OWNER, user="bob")
    team.grant("alice-kb", "bob", Role.WRITE, user="alice")
    assert team.ingest("alice-kb", [Upload("b.txt", b"bob's text")], user="bob")[0].chunks == 1


def test_admin_sees_everything_and_only_admins_add_users(team: Workbench) -> None:
    summary = team.list_stores()[0]
    assert (summary.store.name, summary.documents, summary.chunks, summary.role) == ("alice-kb", 1, 1, Role.OWNER)
    with pytest.raises(PermissionDenied):
        team.add_user("mallory", user="alice")
    with pytest.raises(PermissionDenied, match="no user named 'ghost'"):
        team.list_stores(user="ghost")


def test_deleting_a_store_removes_its_vectors(team: Workbench) -> None:
    store = team.store("alice-kb")
    team.delete_store("alice-kb", user="alice")
    assert team.list_stores() == []
    with pytest.raises(NotFound):
        team.backend("lancedb").count(store.collection)
    team.create_store("alice-kb")  # the name is free again, with an empty store
    assert team.search("alice-kb", "launch") == []


def test_querying_with_another_embedding_model_is_refused(team: Workbench) -> None:
    with pytest.raises(
        EmbeddingMismatch,
        match=r"built with local/all-minilm-l6-v2 .* cannot be searched with openai/text-embedding-3-small",
    ):
        team.search("alice-kb", "launch", embedding="openai/text-embedding-3-small")
    assert team.search("alice-kb", "launch", embedding="local/all-minilm-l6-v2")


@pytest.mark.parametrize("top_k", [0, 51, -3])
def test_top_k_outside_1_to_50_is_refused(top_k: int) -> None:
    with pytest.raises(InvalidInput, match="between 1 and 50"):
        SearchOptions(top_k=top_k)


def test_blank_query_asks_for_words_and_no_match_is_empty(team: Workbench) -> None:
    with pytest.raises(InvalidInput, match="Type something"):
        team.search("alice-kb", "   ")
    team.create_store("empty")
    assert team.search("empty", "anything at all") == []


def test_top_k_returns_at_most_k_best_first(team: Workbench) -> None:
    team.ingest(
        "alice-kb", [Upload(f"n{i}.txt", f"Note {i}: the launch moved by {i} days.".encode()) for i in range(8)]
    )
    hits = team.search("alice-kb", "launch date", options=SearchOptions(top_k=3))
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(team.search("alice-kb", "launch date", options=SearchOptions(top_k=50))) == 9


def test_unknown_backend_and_model_are_explained(workbench: Workbench) -> None:
    from core.errors import BackendUnavailable, ModelError

    with pytest.raises(BackendUnavailable, match="Unknown storage backend 'pinecone'"):
        workbench.create_store("kb", backend="pinecone")
    with pytest.raises(ModelError, match="no bundled embedding model"):
        workbench.create_store("kb", embedding="local/unknown")
    assert workbench.list_stores() == []
