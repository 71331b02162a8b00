"""The permission matrix over HTTP: each kind of key against each operation, through the OpenAI SDK. A key acts as its
user with exactly that user's roles; a store the user may not see answers 404 like a missing one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from core.catalog import now
from core.catalog.schema import api_keys
from core.records import Role
from tests.api.conftest import Server

ALLOWED = "allowed"
READERS = {"admin", "olivia", "ed", "vic"}
EDITORS = {"admin", "olivia", "ed"}
OWNERS = {"admin", "olivia"}
KEYS = ("admin", "olivia", "ed", "vic", "sam", "dan", "revoked", "expired", "wrong")

HTTP = httpx.Client(timeout=120)  # a loaded machine answers slowly; never a false failure


@pytest.fixture(scope="module")
def kb(api: Server) -> dict[str, str]:
    """'kb', owned by olivia, shared with ed (editor), vic (viewer) and dan (editor, then disabled); one file in it."""
    wb = api.wb
    olivia = api.client("olivia")
    store = olivia.vector_stores.create(name="kb")
    wb.stores.grant(wb.actor("olivia"), "kb", "ed", Role.EDITOR)
    wb.stores.grant(wb.actor("olivia"), "kb", "vic", Role.VIEWER)
    wb.users.set_disabled(wb.actor("admin"), "dan", False)
    wb.stores.grant(wb.actor("olivia"), "kb", "dan", Role.EDITOR)
    wb.users.set_disabled(wb.actor("admin"), "dan", True)
    added = olivia.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("launch.txt", b"The launch is planned for the third of May.", "text/plain")
    )
    assert added.status == "completed"
    revoked = wb.keys.create(wb.actor("olivia"), "soon revoked")
    wb.keys.revoke(wb.actor("olivia"), revoked.key.id)
    expired = wb.keys.create(wb.actor("olivia"), "soon expired", expires_days=1)
    with wb.catalog.engine.begin() as conn:
        conn.execute(
            api_keys.update().where(api_keys.c.id == expired.key.id).values(expires_at=now() - timedelta(minutes=1))
        )
    api.keys.update(revoked=revoked.secret, expired=expired.secret, wrong="rwk_" + "x" * 43)
    return {"store": store.id, "file": added.id}


def _own_file(api: Server, user: str) -> str:
    """A file uploaded with the user's own key (olivia's for keys that cannot upload)."""
    uploader = user if user in ("admin", "olivia", "ed", "vic", "sam") else "olivia"
    made = api.client(uploader).files.create(
        file=(f"{user}.txt", f"A note of {user}.".encode(), "text/plain"), purpose="assistants"
    )
    return made.id


def _throwaway(api: Server, name: str) -> str:
    wb = api.wb
    store = wb.stores.create(wb.actor("olivia"), name)
    for user, role in (("ed", Role.EDITOR), ("vic", Role.VIEWER)):
        wb.stores.grant(wb.actor("olivia"), name, user, role)
    return "vs_" + store.id


Call = Callable[[openai.OpenAI, Server, dict[str, str], str], Any]
OPERATIONS: dict[str, tuple[Call, set[str]]] = {
    "retrieve": (lambda c, api, kb, u: c.vector_stores.retrieve(kb["store"]), READERS),
    "search": (lambda c, api, kb, u: c.vector_stores.search(kb["store"], query="launch").data, READERS),
    "list files": (lambda c, api, kb, u: c.vector_stores.files.list(vector_store_id=kb["store"]).data, READERS),
    "read content": (
        lambda c, api, kb, u: list(c.vector_stores.files.content(file_id=kb["file"], vector_store_id=kb["store"])),
        READERS,
    ),
    "attach": (
        lambda c, api, kb, u: c.vector_stores.files.create(vector_store_id=kb["store"], file_id=_own_file(api, u)),
        EDITORS,
    ),
    "update attributes": (
        lambda c, api, kb, u: c.vector_stores.files.update(
            file_id=kb["file"], vector_store_id=kb["store"], attributes={"by": u}
        ),
        EDITORS,
    ),
    "delete file": (
        lambda c, api, kb, u: c.vector_stores.files.delete(
            file_id=api.client("olivia")
            .vector_stores.files.create(vector_store_id=kb["store"], file_id=_own_file(api, "olivia"))
            .id,
            vector_store_id=kb["store"],
        ),
        EDITORS,
    ),
    "rename": (lambda c, api, kb, u: c.vector_stores.update(_throwaway(api, f"old-{u}"), name=f"new-{u}"), OWNERS),
    "delete store": (lambda c, api, kb, u: c.vector_stores.delete(_throwaway(api, f"doomed-{u}")), OWNERS),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("key", KEYS)
def test_permission_matrix(api: Server, kb: dict[str, str], operation: str, key: str) -> None:
    run, allowed = OPERATIONS[operation]
    client = api.client(key)
    if key in allowed:
        assert run(client, api, kb, key) is not None
        return
    expected: type[openai.APIStatusError]
    if key in ("revoked", "expired", "wrong"):
        expected = openai.AuthenticationError
    elif key == "dan" or key in READERS:  # disabled, or a role too small: forbidden, in words
        expected = openai.PermissionDeniedError
    else:  # a stranger: the store does not exist for them
        expected = openai.NotFoundError
    with pytest.raises(expected) as refused:
        run(client, api, kb, key)
    body = refused.value.body
    assert isinstance(body, dict) and body["message"].endswith(".") and "Traceback" not in body["message"], body
    if key == "dan":
        assert "disabled" in body["message"]
    if key in ("revoked", "expired"):
        assert key in body["message"]


def test_a_disabled_users_keys_stop_at_once_and_work_again_when_enabled(api: Server, kb: dict[str, str]) -> None:
    wb = api.wb
    client = api.client("vic")
    assert client.vector_stores.retrieve(kb["store"]).name == "kb"
    wb.users.set_disabled(wb.actor("admin"), "vic", True)
    try:
        with pytest.raises(openai.PermissionDeniedError, match="disabled"):
            client.vector_stores.retrieve(kb["store"])
    finally:
        wb.users.set_disabled(wb.actor("admin"), "vic", False)
    assert client.vector_stores.retrieve(kb["store"]).name == "kb"


def test_a_request_without_a_key_is_refused_in_openais_shape(api: Server) -> None:
    response = HTTP.get(f"{api.base}/vector_stores")
    assert response.status_code == 401
    assert (
        response.json()["error"]["code"] == "invalid_api_key"
        and "Authorization: Bearer" in response.json()["error"]["message"]
    )


def test_keys_are_kept_as_hashes_and_every_call_is_recorded_with_its_key(api: Server, kb: dict[str, str]) -> None:
    wb = api.wb
    made = wb.keys.create(wb.actor("vic"), "usage check")
    with wb.catalog.engine.connect() as conn:
        stored = conn.execute(sa.select(api_keys).where(api_keys.c.id == made.key.id)).mappings().one()
    assert made.secret not in str(dict(stored)) and stored["prefix"] == made.secret[:12]
    client = openai.OpenAI(api_key=made.secret, base_url=api.base, max_retries=0)
    client.vector_stores.search(kb["store"], query="launch")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve("vs_nothing")
    calls = wb.usage.report(wb.actor("admin"), channel="api", key=made.key.id).unique
    requests = calls[calls["kind"] == "api"]
    assert set(requests["model"]) == {"POST /v1/vector_stores/{store_id}/search", "GET /v1/vector_stores/{store_id}"}
    assert set(calls["user"]) == {"vic"} and list(requests["ok"]).count(False) == 1
    assert set(calls["kind"]) == {"api", "embedding"}  # the query's embedding is the key's too
