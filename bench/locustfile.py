"""The load bench/cluster.py drives through HAProxy: analysts' programs searching, asking (RAG) and uploading files
to one store with the OpenAI-compatible API, each operation retried like a careful client (a connection that breaks,
a 502/503 from the balancer: up to 4 attempts with a short backoff).

Settings from the environment: WB_KEY (an API key), WB_STORE (the store's id), WB_UPLOADS (a file each process
appends the ids of the files it uploaded to). Each attempt is a locust request named by its type; an operation that
fails every attempt is also counted once as "GAVE UP <type>".
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

from locust import HttpUser, between, task
from locust.clients import ResponseContextManager

KEY = os.environ.get("WB_KEY", "")
STORE = os.environ.get("WB_STORE", "")
UPLOADS = os.environ.get("WB_UPLOADS", "uploads.jsonl")
ATTEMPTS = 4
RETRIED = {0, 502, 503, 504}  # no answer, or the balancer had no replica for it: worth another attempt
QUESTIONS = [
    "Where is the warehouse that handles European shipments?",
    "What dividend did the board approve?",
    "How many employees were there at the end of the fiscal year?",
    "How much did quarterly revenue grow?",
    "Which animals migrate across the Serengeti?",
]
FILLER = "The company reviews its operations every quarter and reports the results to its shareholders. "


class Analyst(HttpUser):
    wait_time = between(0.05, 0.25)  # little thinking: the replicas, not the users, set the pace

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {KEY}"

    def _call(self, name: str, method: str, path: str, **kwargs: object) -> dict[str, object] | None:
        """One operation, retried; its JSON answer, or None when every attempt failed."""
        for attempt in range(ATTEMPTS):
            with self.client.request(method, path, name=name, catch_response=True, timeout=180, **kwargs) as answer:
                assert isinstance(answer, ResponseContextManager)
                if answer.status_code == 200:
                    answer.success()
                    return answer.json()  # type: ignore[no-any-return]
                answer.failure(f"{answer.status_code}: {answer.text[:120]}")
                if answer.status_code not in RETRIED:
                    break
            time.sleep(0.5 * 2**attempt)
        self.environment.events.request.fire(
            request_type="GAVE UP", name=name, response_time=0, response_length=0, exception=RuntimeError(name)
        )
        return None

    @task(6)
    def search(self) -> None:
        self._call("search", "POST", f"/v1/vector_stores/{STORE}/search", json={"query": random.choice(QUESTIONS)})

    @task(1)
    def rag(self) -> None:
        self._call("rag", "POST", f"/v1/vector_stores/{STORE}/rag", json={"query": random.choice(QUESTIONS)})

    @task(1)
    def upload(self) -> None:
        token = uuid.uuid4().hex
        text = f"Memo {token}. The project code name is {token[:8]}. " + FILLER * 300  # about 60 chunks
        uploaded = self._call(
            "upload file", "POST", "/v1/files", files={"file": (f"memo-{token}.txt", text.encode())},
            data={"purpose": "assistants"},
        )  # fmt: skip
        if uploaded is None:
            return
        attached = self._call(
            "attach file", "POST", f"/v1/vector_stores/{STORE}/files", json={"file_id": uploaded["id"]}
        )
        if attached is None:
            return
        with open(UPLOADS, "a", encoding="utf-8") as log:
            log.write(json.dumps({"file_id": uploaded["id"], "filename": f"memo-{token}.txt"}) + "\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the analyst's program polls until the file is in
            state = self._call("poll file", "GET", f"/v1/vector_stores/{STORE}/files/{uploaded['id']}")
            if state is not None and state.get("status") != "in_progress":
                return
            time.sleep(1.0)
