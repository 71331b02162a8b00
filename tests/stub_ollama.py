"""An Ollama-shaped model server on loopback (GET /api/tags, POST /api/chat and /api/generate, streamed as NDJSON),
for tests that connect a local server as an administrator would: only remote model providers are stubbed.

    with StubOllama(models=("llama3.2:1b",), reply="...") as ollama:
        ollama.api_base  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer


class StubOllama(LoopbackServer):
    def __init__(self, *, models: tuple[str, ...] = ("llama3.2:1b",), reply: str = "Hello.", port: int = 0) -> None:
        self.models, self.reply = models, reply
        self.requests: list[dict[str, Any]] = []
        super().__init__(self._handler(), port=port)

    @property
    def api_base(self) -> str:
        return self.url

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    models = [{"name": m, "model": m, "size": 1, "digest": "x", "details": {}} for m in stub.models]
                    self._json(200, {"models": models})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path == "/api/show":
                    self._json(200, {"model_info": {"llama.context_length": 8192}, "template": ""})
                    return
                stub.requests.append({"path": self.path, "body": body})
                if self.path not in ("/api/chat", "/api/generate"):
                    self._json(404, {"error": "not found"})
                elif body.get("model") not in stub.models:
                    self._json(404, {"error": f"model '{body.get('model')}' not found"})
                elif not body.get("stream"):
                    self._json(200, self._piece(stub.reply, True, chat=self.path == "/api/chat", model=body["model"]))
                else:
                    words = stub.reply.split(" ")
                    pieces = [w + (" " if n < len(words) - 1 else "") for n, w in enumerate(words)]
                    lines = [self._piece(p, False, chat=self.path == "/api/chat", model=body["model"]) for p in pieces]
                    lines.append(self._piece("", True, chat=self.path == "/api/chat", model=body["model"]))
                    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-ndjson")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            @staticmethod
            def _piece(text: str, done: bool, *, chat: bool, model: str) -> dict[str, Any]:
                piece: dict[str, Any] = {"model": model, "done": done}
                if chat:
                    piece["message"] = {"role": "assistant", "content": text}
                else:
                    piece["response"] = text
                if done:
                    piece.update(done_reason="stop", prompt_eval_count=11, eval_count=3)
                return piece

        return Handler
