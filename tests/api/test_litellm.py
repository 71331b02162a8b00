"""LiteLLM against our server: its vector-store search with the openai and pg_vector providers, and a real LiteLLM
proxy process (started here on a free loopback port) that searches our stores and answers a RAG chat with them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import litellm
import pytest

from tests.api.conftest import Server, free_port
from tests.stub_provider import StubProvider

PUMPS = "The centrifugal pumps in plant 7 are serviced every 90 days by the maintenance crew."


@pytest.fixture(scope="module")
def handbook(api: Server) -> str:
    client = api.client("olivia")
    store = client.vector_stores.create(name="litellm handbook")
    added = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("pumps.txt", PUMPS.encode(), "text/plain"), poll_interval_ms=100
    )
    assert added.status == "completed"
    api.wb.stores.grant(api.wb.actor("olivia"), "litellm handbook", "vic", "viewer")  # the proxy searches as vic
    client.vector_stores.files.update(file_id=added.id, vector_store_id=store.id, attributes={"lang": "en"})
    return store.id


@pytest.mark.parametrize("provider", ["openai", "pg_vector"])
def test_litellm_searches_our_store(api: Server, handbook: str, provider: str) -> None:
    base = api.base if provider == "openai" else api.url  # pg_vector appends /v1/vector_stores itself
    page = litellm.vector_stores.search(
        vector_store_id=handbook,
        query="How often are the pumps serviced?",
        custom_llm_provider=provider,
        api_base=base,
        api_key=api.keys["vic"] if provider == "openai" else api.keys["olivia"],
        max_num_results=3,
        filters={"type": "eq", "key": "lang", "value": "en"},
    )
    assert page["object"] == "vector_store.search_results.page"
    assert page["data"] and "90 days" in page["data"][0]["content"][0]["text"]
    assert page["data"][0]["filename"] == "pumps.txt" and page["data"][0]["attributes"]["lang"] == "en"


@pytest.fixture(scope="module")
def proxy(api: Server, handbook: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StubProvider]]:
    """`litellm --config` in its own process: our store registered as a vector store, a stub chat model on loopback."""
    executable = shutil.which("litellm", path=str(Path(sys.executable).parent))
    assert executable, "litellm[proxy] is in requirements.txt: its command should be installed"
    with StubProvider(reply="They are serviced every 90 days [1].") as chat:
        folder = tmp_path_factory.mktemp("proxy")
        config = folder / "config.yaml"
        config.write_text(
            f"""
model_list:
  - model_name: stub-chat
    litellm_params: {{model: hosted_vllm/stub-model, api_base: "{chat.api_base}", api_key: "none"}}
vector_store_registry:
  - vector_store_name: handbook
    litellm_params:
      vector_store_id: {handbook}
      custom_llm_provider: openai
      api_base: {api.base}
      api_key: os.environ/WORKBENCH_API_KEY
mcp_servers:
  workbench:
    url: {api.url}/mcp
    transport: http
    auth_type: bearer_token
    authentication_token: os.environ/WORKBENCH_API_KEY
general_settings:
  master_key: sk-master-1234
""",
            encoding="utf-8",
        )
        port = free_port()
        env = {
            **os.environ,
            "WORKBENCH_API_KEY": api.keys["vic"],
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "NO_DOCS": "True",
        }
        log = (folder / "proxy.log").open("wb")
        process = subprocess.Popen(
            [executable, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                assert process.poll() is None, (folder / "proxy.log").read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "the LiteLLM proxy did not start in 180 s"
                try:
                    if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            yield url, chat
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


MASTER = {"Authorization": "Bearer sk-master-1234"}


@pytest.mark.slow
def test_a_litellm_proxy_searches_our_store(proxy: tuple[str, StubProvider], handbook: str) -> None:
    url, _ = proxy
    response = httpx.post(
        f"{url}/v1/vector_stores/{handbook}/search",
        json={"query": "pump service interval", "max_num_results": 2},
        headers=MASTER,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["data"] and "90 days" in page["data"][0]["content"][0]["text"]


@pytest.mark.slow
def test_a_rag_chat_through_the_proxy_is_given_our_search_results(
    proxy: tuple[str, StubProvider], handbook: str
) -> None:
    url, chat = proxy
    before = len(chat.requests)
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": "stub-chat",
            "messages": [{"role": "user", "content": "How often are the pumps in plant 7 serviced?"}],
            "tools": [{"type": "file_search", "vector_store_ids": [handbook]}],
        },
        headers=MASTER,
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "They are serviced every 90 days [1]."
    prompts = [r["body"] for r in chat.requests[before:] if r["path"].endswith("/chat/completions")]
    assert prompts, chat.requests
    text = " ".join(str(m.get("content")) for m in prompts[-1]["messages"])
    assert "serviced every 90 days by the maintenance crew" in text  # our search result reached the model
    assert not any(t.get("type") == "file_search" for t in prompts[-1].get("tools") or [])


@pytest.mark.slow
def test_a_litellm_proxy_mounts_our_mcp_server(api: Server, proxy: tuple[str, StubProvider], handbook: str) -> None:
    """The proxy's `mcp_servers` entry lists and calls our tools, acting as the key it was given (vic's)."""
    import asyncio

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url, _ = proxy
    api.wb.stores.create(api.wb.actor("olivia"), "olivias-own")  # not shared with vic

    async def run() -> tuple[list[str], Any, Any]:
        async with (
            httpx2.AsyncClient(headers=MASTER, timeout=120) as http,
            Client(streamable_http_client(f"{url}/mcp/workbench", http_client=http)) as client,
        ):
            names = [t.name for t in (await client.list_tools()).tools]
            found = await client.call_tool(
                "workbench-search_store", {"store": "litellm handbook", "query": "pump service interval"}
            )
            hidden = await client.call_tool("workbench-search_store", {"store": "olivias-own", "query": "x"})
            return names, found, hidden

    names, found, hidden = asyncio.run(run())
    assert set(names) == {f"workbench-{t}" for t in ("list_stores", "search_store", "ask_store", "get_chunk")}
    assert not found.is_error and "90 days" in found.structured_content["results"][0]["text"]
    assert hidden.is_error and "There is no store named 'olivias-own'" in hidden.content[0].text
