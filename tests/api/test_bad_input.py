"""What a careless or hostile client sends: each gets a plain error in OpenAI's shape with the right status, and
nothing is lost or doubled."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.api.conftest import Server, serve, world
from tests.conftest import filing_pages, make_pdf

HTTP = httpx.Client(timeout=120)  # a loaded machine answers slowly; never a false failure


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    message = str(body["error"]["message"])
    assert message.endswith((".", ")")) and "Traceback" not in message and 'File "' not in message
    return dict(body["error"])


def _headers(api: Server, user: str = "olivia") -> dict[str, str]:
    return {"Authorization": f"Bearer {api.keys[user]}"}


def test_an_oversize_upload_is_refused_with_413_before_it_is_read_whole(api: Server) -> None:
    big = b"a" * (1 * 2**20 + 10)  # the module's server allows 1 MB
    response = HTTP.post(
        f"{api.base}/files", files={"file": ("big.txt", big)}, data={"purpose": "assistants"}, headers=_headers(api)
    )
    assert response.status_code == 413 and "over the 1 MB upload limit" in str(_error(response)["message"])
    assert response.headers["x-should-retry"] == "false"  # the SDK would otherwise send it twice more
    assert not [f for f in api.wb.files.mine(api.wb.actor("olivia")) if f.filename == "big.txt"]


def test_a_corrupt_pdf_ends_failed_with_its_reason(api: Server) -> None:
    client = api.client("olivia")
    store = client.vector_stores.create(name="corrupt")
    broken = client.files.create(
        file=("broken.pdf", b"%PDF-1.7\nthis is not really a pdf", "application/pdf"), purpose="assistants"
    )
    result = client.vector_stores.files.create_and_poll(
        vector_store_id=store.id, file_id=broken.id, poll_interval_ms=100
    )
    assert result.status == "failed" and result.last_error is not None
    assert result.last_error.code == "invalid_file" and "broken.pdf" in result.last_error.message
    program = client.files.create(file=("setup.exe", b"MZ\x90\x00", "application/octet-stream"), purpose="assistants")
    refused = client.vector_stores.files.create(vector_store_id=store.id, file_id=program.id)
    assert refused.status == "failed" and refused.last_error.code == "unsupported_file"  # said at once, not queued
    assert "Windows programs (.exe) cannot be added" in refused.last_error.message
    good = client.files.create(file=("good.txt", b"A sound document about pumps.", "text/plain"), purpose="assistants")
    assert (
        client.vector_stores.files.create_and_poll(
            vector_store_id=store.id, file_id=good.id, poll_interval_ms=100
        ).status
        == "completed"
    )
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (1, 2, 3)


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"type": "regex", "key": "lang", "value": "e.*"}, "Unknown filter type 'regex'"),
        ({"type": "eq", "key": "page", "value": 3}, "cannot filter by 'page'"),
        ({"type": "in", "key": "lang", "value": "en"}, "needs a non-empty list"),
        ({"type": "and", "filters": []}, "non-empty list of filters"),
        ({"type": "gt", "key": "year", "value": True}, "not true/false"),
    ],
)
def test_a_filter_the_product_cannot_keep_is_a_400(api: Server, filters: dict[str, object], words: str) -> None:
    store = api.client("olivia").vector_stores.create(name=f"filters-{abs(hash(words))}")
    response = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/search", json={"query": "x", "filters": filters}, headers=_headers(api)
    )
    assert response.status_code == 400 and words in str(_error(response)["message"])


def test_malformed_json_and_wrong_fields(api: Server) -> None:
    store = api.client("olivia").vector_stores.create(name="malformed")
    url = f"{api.base}/vector_stores/{store.id}/search"
    broken = HTTP.post(
        url, content=b'{"query": "unfinished', headers={**_headers(api), "content-type": "application/json"}
    )
    assert broken.status_code == 400 and _error(broken)["code"] == "invalid_json"
    form = HTTP.post(
        url, content=b'{"query": "x"}', headers={**_headers(api), "content-type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 400 and "Content-Type: application/json" in str(_error(form)["message"])  # curl -d
    missing = HTTP.post(url, json={"max_num_results": 3}, headers=_headers(api))
    assert missing.status_code == 422 and "query" in str(_error(missing)["message"])
    too_many = HTTP.post(url, json={"query": "x", "max_num_results": 500}, headers=_headers(api))
    assert too_many.status_code == 400 and "between 1 and 50" in str(_error(too_many)["message"])
    nulls = HTTP.post(
        url,
        json={"query": "x", "filters": None, "max_num_results": None, "ranking_options": None, "rewrite_query": None},
        headers=_headers(api),
    )
    assert (
        nulls.status_code == 200 and nulls.json()["object"] == "vector_store.search_results.page"
    )  # as LiteLLM sends it
    alias = HTTP.post(url, json={"query": "x", "top_k": 2}, headers=_headers(api))
    assert alias.status_code == 200
    unknown = HTTP.get(f"{api.base}/no/such/endpoint", headers=_headers(api))
    assert unknown.status_code == 404 and _error(unknown)["message"] == "There is no such endpoint."
    expires = HTTP.post(
        f"{api.base}/vector_stores",
        json={"name": "exp", "expires_after": {"anchor": "last_active_at", "days": 2}},
        headers=_headers(api),
    )
    assert expires.status_code == 400 and "do not expire" in str(_error(expires)["message"])
    taken = HTTP.post(f"{api.base}/vector_stores", json={"name": "malformed"}, headers=_headers(api))
    assert taken.status_code == 409


def test_the_same_file_sent_at_once_becomes_one_document(api: Server) -> None:
    client = api.client("ed")
    store = client.vector_stores.create(name="twins")
    pdf = make_pdf(filing_pages(3))

    def send(n: int) -> str:
        uploaded = api.client("ed").files.create(file=("filing.pdf", pdf, "application/pdf"), purpose="assistants")
        return (
            api.client("ed")
            .vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=uploaded.id, poll_interval_ms=100)
            .status
        )

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(send, range(4)))
    assert statuses == ["completed"] * 4
    documents = api.wb.documents.of(api.wb.actor("ed"), "twins")
    assert len([d for d in documents if d.status.value == "ready"]) == 1
    again = client.files.create(file=("filing.pdf", pdf, "application/pdf"), purpose="assistants")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:  # one file attached three times at once: one job
        list(
            pool.map(
                lambda _: api.client("ed").vector_stores.files.create(vector_store_id=store.id, file_id=again.id),
                range(3),
            )
        )
    assert len([j for j in api.wb.jobs.of(api.wb.actor("ed"), "twins") if j.file_id == again.id[5:]]) == 1


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Server]:
    """A server that allows 60 requests a minute per key (bursts of 6)."""
    wb = world(tmp_path, api_rate_per_minute=60)
    for running in serve(wb):
        running.keys["olivia"] = wb.keys.create(wb.actor("olivia"), "flood").secret
        running.keys["ed"] = wb.keys.create(wb.actor("ed"), "calm").secret
        yield running


def test_a_flood_from_one_key_gets_429_with_retry_after_and_others_go_on(strict: Server) -> None:
    def ask(_: int) -> httpx.Response:
        return HTTP.get(f"{strict.base}/models", headers=_headers(strict))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(30)))
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 20 and all(a.status_code in (200, 429) for a in answers)
    assert int(limited[0].headers["retry-after"]) >= 1 and "at most 60 a minute" in str(_error(limited[0])["message"])
    assert HTTP.get(f"{strict.base}/models", headers=_headers(strict, "ed")).status_code == 200
    with pytest.raises(openai.RateLimitError):
        strict.client("olivia").models.list()
