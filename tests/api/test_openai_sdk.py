"""The OpenAI Python SDK against our real server: stores, files, upload_and_poll, search with filters, pagination,
attributes, batches, embeddings and models, exactly as an existing OpenAI program would use them."""

from __future__ import annotations

import base64
import time

import httpx
import numpy as np
import openai
import pytest

from tests.api.conftest import Server
from tests.conftest import filing_pages, make_pdf

ZEBRAS = "Zebras migrate across the Serengeti plains every year, following the rains and fresh grass."

HTTP = httpx.Client(timeout=120)  # a loaded machine answers slowly; never a false failure


def test_a_store_from_creation_to_deletion(api: Server) -> None:
    client = api.client("olivia")
    store = client.vector_stores.create(name="handbook", metadata={"team": "finance"})
    assert store.id.startswith("vs_") and store.object == "vector_store" and store.metadata == {"team": "finance"}
    assert store.file_counts.total == 0 and store.status == "completed"

    pdf = make_pdf([*filing_pages(4), ZEBRAS])
    added = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("filing.pdf", pdf, "application/pdf"), poll_interval_ms=100
    )
    assert added.status == "completed" and added.last_error is None, added
    assert added.id.startswith("file-") and added.vector_store_id == store.id and added.usage_bytes == len(pdf)

    notes = client.files.create(
        file=("notes.txt", b"The cafeteria serves soup on Fridays.", "text/plain"), purpose="assistants"
    )
    client.vector_stores.files.create_and_poll(
        vector_store_id=store.id, file_id=notes.id, attributes={"lang": "en", "year": 2024}, poll_interval_ms=100
    )
    updated = client.vector_stores.files.update(
        file_id=added.id, vector_store_id=store.id, attributes={"lang": "en", "year": 2018, "kind": "filing"}
    )
    assert updated.attributes == {"lang": "en", "year": 2018.0, "kind": "filing"}  # the SDK reads numbers as floats

    page = client.vector_stores.search(store.id, query="Where do zebras migrate?", max_num_results=3)
    results = list(page)
    assert results and results[0].filename == "filing.pdf" and "Serengeti" in results[0].content[0].text
    first = results[0]
    assert first.file_id == added.id and first.score > 0
    assert (
        first.attributes["page"] == 5
        and first.attributes["store"] == "handbook"
        and first.attributes["kind"] == "filing"
    )
    assert page.model_extra and page.model_extra["search_query"] == ["Where do zebras migrate?"]

    both = {
        "type": "and",
        "filters": [{"type": "eq", "key": "lang", "value": "en"}, {"type": "gte", "key": "year", "value": 2020}],
    }
    only_notes = list(client.vector_stores.search(store.id, query="Where do zebras migrate?", filters=both))
    assert only_notes and {r.filename for r in only_notes} == {"notes.txt"}
    either = {
        "type": "or",
        "filters": [{"type": "eq", "key": "kind", "value": "memo"}, {"type": "in", "key": "type", "value": ["pdf"]}],
    }
    assert {r.filename for r in client.vector_stores.search(store.id, query="zebras", filters=either)} == {"filing.pdf"}
    none = {"type": "nin", "key": "filename", "value": ["filing.pdf", "notes.txt"]}
    assert list(client.vector_stores.search(store.id, query="zebras", filters=none)) == []

    listed = client.vector_stores.files.list(vector_store_id=store.id, filter="completed")
    assert {f.id for f in listed} == {added.id, notes.id}
    content = client.vector_stores.files.content(file_id=added.id, vector_store_id=store.id)
    assert any("Serengeti" in part.text for part in content)

    renamed = client.vector_stores.update(store.id, name="handbook 2018", metadata={"team": "audit"})
    assert renamed.name == "handbook 2018" and renamed.metadata == {"team": "audit"} and renamed.id == store.id
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 2

    assert client.vector_stores.files.delete(file_id=added.id, vector_store_id=store.id).deleted
    assert client.vector_stores.retrieve(store.id).file_counts.total == 1
    assert client.vector_stores.delete(store.id).deleted
    with pytest.raises(openai.NotFoundError, match="no vector store"):
        client.vector_stores.retrieve(store.id)


def test_listing_pages_through_every_store_and_stops(api: Server) -> None:
    client = api.client("ed")
    made = [client.vector_stores.create(name=f"page-{n}").id for n in range(5)]
    newest_first = [s.id for s in client.vector_stores.list(limit=2)]  # the SDK follows `after` until has_more is false
    assert newest_first[:5] == made[::-1]
    one = client.vector_stores.list(limit=2, order="asc")
    assert one.has_more and len(one.data) == 2
    rest = client.vector_stores.list(limit=100, order="asc", after=one.data[-1].id)
    assert not rest.has_more and [s.id for s in one.data + rest.data][-5:] == made
    for store_id in made:
        client.vector_stores.delete(store_id)


def test_a_batch_of_files_with_attributes(api: Server) -> None:
    client = api.client("olivia")
    store = client.vector_stores.create(name="batch")
    files = [
        client.files.create(
            file=(f"memo-{n}.txt", f"Memo {n}: the budget for region {n} grew.".encode(), "text/plain"),
            purpose="assistants",
        )
        for n in range(3)
    ]
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id,
        files=[{"file_id": f.id, "attributes": {"region": n}} for n, f in enumerate(files)],
        poll_interval_ms=100,
    )
    assert batch.id.startswith("vsfb_") and batch.status == "completed" and batch.file_counts.completed == 3
    in_batch = client.vector_stores.file_batches.list_files(batch_id=batch.id, vector_store_id=store.id)
    assert sorted(f.attributes["region"] for f in in_batch) == [0, 1, 2]
    hits = client.vector_stores.search(store.id, query="budget", filters={"type": "eq", "key": "region", "value": 2})
    assert [h.filename for h in hits] == ["memo-2.txt"]
    client.vector_stores.delete(store.id)


def test_embeddings_and_models(api: Server) -> None:
    client = api.client("sam")
    models = {m.id for m in client.models.list()}
    assert "local/all-minilm-l6-v2" in models and "local/smollm2-135m" in models
    as_base64 = client.embeddings.create(model="local/all-minilm-l6-v2", input=["zebras", "budget"])  # SDK asks base64
    floats = client.embeddings.create(model="local/all-minilm-l6-v2", input="zebras", encoding_format="float")
    assert len(as_base64.data) == 2 and len(as_base64.data[0].embedding) == 384
    np.testing.assert_allclose(as_base64.data[0].embedding, floats.data[0].embedding, atol=1e-6)
    assert abs(float(np.linalg.norm(floats.data[0].embedding)) - 1.0) < 1e-3
    raw = (
        api.client("sam")
        .with_options()
        .embeddings.with_raw_response.create(model="local/all-minilm-l6-v2", input="x", encoding_format="base64")
    )
    encoded = raw.http_response.json()["data"][0]["embedding"]
    assert len(base64.b64decode(encoded)) == 384 * 4
    with pytest.raises(openai.BadRequestError, match="not an embedding model"):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_the_poll_helper_is_told_how_soon_to_ask_again(api: Server) -> None:
    client = api.client("olivia")
    store = client.vector_stores.create(name="poll")
    uploaded = client.files.create(
        file=("poll.pdf", make_pdf(filing_pages(3)), "application/pdf"), purpose="assistants"
    )
    response = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/files",
        json={"file_id": uploaded.id, "attributes": None, "chunking_strategy": None},
        headers={"AUTHORIZATION": f"Bearer {api.keys['olivia']}"},  # header names in any case
    )
    assert response.status_code == 200 and response.json()["status"] in ("in_progress", "completed")
    assert response.headers["openai-poll-after-ms"] == "500"
    deadline = time.monotonic() + 120
    while client.vector_stores.files.retrieve(file_id=uploaded.id, vector_store_id=store.id).status == "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    client.vector_stores.delete(store.id)
