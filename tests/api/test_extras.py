"""The workbench's own endpoints beside OpenAI's: upload in one call (with chunking), and RAG with checked citations."""

from __future__ import annotations

import httpx

from tests.api.conftest import Server
from tests.conftest import filing_pages, make_pdf

HTTP = httpx.Client(timeout=300)
LAUNCH = "The product launch is planned for the third of May 2027 in Lisbon, with 40 partners invited."


def test_upload_in_one_call_then_an_answer_with_its_sources(api: Server) -> None:
    store = api.client("olivia").vector_stores.create(name="extras")
    headers = {"Authorization": f"Bearer {api.keys['olivia']}"}
    pdf = make_pdf([*filing_pages(2), LAUNCH])
    uploaded = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/upload",
        files={"file": ("plan.pdf", pdf, "application/pdf")},
        data={"chunk_size": "300", "chunk_overlap": "30"},
        headers=headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert body["status"] == "completed" and body["chunks"] > 3 and body["filename"] == "plan.pdf"
    wrong = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/upload",
        files={"file": ("plan2.pdf", pdf + b"x", "application/pdf")},
        data={"chunk_size": "100", "chunk_overlap": "200"},
        headers=headers,
    )
    assert wrong.status_code == 400 and "overlap (200) must be" in wrong.json()["error"]["message"]
    assert [f.filename for f in api.wb.files.mine(api.wb.actor("olivia"))].count("plan2.pdf") == 0  # nothing kept

    answer = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/rag",
        json={"query": "When is the product launch?", "top_k": 3},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert "third of May 2027" in result["answer"] and result["refused"] is False
    assert result["citations"] and result["citations"][0]["page"] == 3 and "Lisbon" in result["citations"][0]["snippet"]
    assert result["check"]["grounded"] is True and result["check"]["unsupported"] == []
    viewer = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/rag",
        json={"query": "When?"},
        headers={"Authorization": f"Bearer {api.keys['sam']}"},
    )
    assert viewer.status_code == 404  # a store sam may not see
    nothing = HTTP.post(
        f"{api.base}/vector_stores/{store.id}/rag", json={"query": "What is the capital of Peru?"}, headers=headers
    )
    assert nothing.status_code == 200 and nothing.json()["refused"] is True  # the documents do not say: it says so


def test_the_docs_page_loads_only_from_the_api_itself(api: Server) -> None:
    import re

    page = HTTP.get(f"{api.url}/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert loaded and not [u for u in loaded if re.match(r"(?:https?:)?//", u)]  # FastAPI's default: a CDN
    for asset in loaded:
        assert HTTP.get(f"{api.url}{asset}").status_code == 200, asset


def test_the_openapi_docs_describe_every_endpoint(api: Server) -> None:
    assert HTTP.get(f"{api.url}/docs").status_code == 200
    paths = HTTP.get(f"{api.url}/openapi.json").json()["paths"]
    for path in (
        "/v1/vector_stores",
        "/v1/vector_stores/{store_id}/search",
        "/v1/vector_stores/{store_id}/files/{file_id}/content",
        "/v1/vector_stores/{store_id}/file_batches/{batch_id}/cancel",
        "/v1/vector_stores/{store_id}/upload",
        "/v1/vector_stores/{store_id}/rag",
        "/v1/files",
        "/v1/models",
        "/v1/embeddings",
    ):
        assert path in paths, path


def test_an_upload_chooses_how_its_scan_is_read(api: Server) -> None:
    from tests.conftest import make_scan

    store = api.client("olivia").vector_stores.create(name="scans by api")
    headers = {"Authorization": f"Bearer {api.keys['olivia']}"}
    scan = make_scan(["Minutes of the board. The dividend of 35 cents is payable on the ninth of June."])

    def upload(name: str, ocr: str) -> httpx.Response:
        return HTTP.post(f"{api.base}/vector_stores/{store.id}/upload", files={"file": (name, scan, "application/pdf")},
                         data={"ocr": ocr}, headers=headers)  # fmt: skip

    unread = upload("unread.pdf", "never").json()
    assert unread["status"] == "failed" and "no text on any page" in unread["last_error"]["message"]
    read = upload("read.pdf", "auto").json()
    assert read["status"] == "completed" and read["chunks"] >= 1
    wrong = upload("odd.pdf", "sometimes")
    assert wrong.status_code == 400 and "OCR is auto, always or never" in wrong.json()["error"]["message"]
    assert "odd.pdf" not in [f.filename for f in api.wb.files.mine(api.wb.actor("olivia"))]  # nothing kept
