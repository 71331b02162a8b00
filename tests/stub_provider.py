"""An OpenAI-compatible chat and embeddings provider on loopback, for tests that need a real HTTP provider: one that streams
slowly (so a person can press Stop), or one that fails and echoes the request's Authorization header back in
its error, as a misconfigured proxy does.

    with StubProvider(reply="word " * 200, delay=0.05) as stub:
        models.yaml: litellm_params: {model: openai/stub, api_base: stub.api_base, api_key: sk-...}
"""

from __future__ import annotations

import hashlib
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer


class StubProvider(LoopbackServer):
    def __init__(
        self,
        *,
        reply: str = "Hello.",
        delay: float = 0.0,
        fail_status: int | None = None,
        models: tuple[str, ...] = (),
        key: str = "",
        port: int = 0,
        flags: tuple[str, ...] = (),
    ) -> None:
        """`models`: listed at GET /v1/models, and the only ones it answers for (others: 404) when given; `key`: the
        only Bearer key it accepts (others: 401) when given; `flags`: words its moderation endpoint flags as "violence"."""
        self.reply, self.delay, self.fail_status = reply, delay, fail_status
        self.models, self.key, self.flags = models, key, flags
        self.requests: list[dict[str, Any]] = []
        super().__init__(self._handler(), port=port)

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _refused(self) -> bool:
                if stub.key and self.headers.get("Authorization") != f"Bearer {stub.key}":
                    self._send(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                               "code": "invalid_api_key"}})  # fmt: skip
                    return True
                return False

            def do_GET(self) -> None:
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": None})
                if self._refused():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "created": 0, "owned_by": "stub"} for m in stub.models]
                    self._send(200, {"object": "list", "data": data})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self._refused():
                    return
                if stub.models and body.get("model") not in stub.models:
                    message = f"The model `{body.get('model')}` does not exist."
                    self._send(404, {"error": {"message": message, "type": "invalid_request_error",
                                               "code": "model_not_found"}})  # fmt: skip
                elif stub.fail_status is not None:  # echo the key, as a badly configured proxy does
                    message = f"invalid credentials: Authorization: {self.headers.get('Authorization')}"
                    self._send(stub.fail_status, {"error": {"message": message, "type": "auth_error"}})
                elif self.path.endswith("/moderations"):
                    text = str(body.get("input"))
                    hit = any(word in text for word in stub.flags)
                    result = {"flagged": hit, "categories": {"violence": hit, "harassment": False},
                              "category_scores": {"violence": 0.99 if hit else 0.01, "harassment": 0.0}}  # fmt: skip
                    self._send(200, {"id": "modr-1", "model": body.get("model"), "results": [result]})
                elif self.path.endswith("/embeddings"):
                    self._send(200, self._embeddings(body))
                elif body.get("stream"):
                    self._stream(body)
                else:
                    self._send(200, self._completion(body))

            def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
                return {
                    "id": "stub-1",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "stub"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": stub.reply}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }

            def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
                """A vector of 8 numbers per input, drawn from the text's digest (the same text, the same vector)."""
                texts = body.get("input") or []
                texts = [texts] if isinstance(texts, str) else texts
                data = []
                for n, text in enumerate(texts):
                    digest = hashlib.sha256(str(text).encode()).digest()
                    data.append({"object": "embedding", "index": n, "embedding": [b / 255 - 0.5 for b in digest[:8]]})
                tokens = sum(len(str(t).split()) for t in texts)
                usage = {"prompt_tokens": tokens, "total_tokens": tokens}
                return {"object": "list", "data": data, "model": body.get("model"), "usage": usage}

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = stub.reply.split(" ")
                try:
                    for n, word in enumerate(words):
                        delta = {"content": word + (" " if n < len(words) - 1 else "")}
                        self._event({"id": "stub-1", "object": "chat.completion.chunk", "model": body.get("model"),
                                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})  # fmt: skip
                        time.sleep(stub.delay)
                    self._event({"id": "stub-1", "object": "chat.completion.chunk", "model": body.get("model"),
                                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})  # fmt: skip
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what Stop does

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

        return Handler
