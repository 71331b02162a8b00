"""A real API server (uvicorn in a thread, on a free loopback port) over a workbench in a temporary folder, with
users of every kind and a key each. Clients nobody here wrote (the OpenAI SDK, LiteLLM, a LiteLLM proxy) talk to it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from api import create_app
from core.config import load_settings
from core.workbench import Workbench

PASSWORD = "correct horse battery"
USERS = ("olivia", "ed", "vic", "sam", "dan")  # owner, editor, viewer, stranger, disabled (admin is built in)


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    wb: Workbench
    keys: dict[str, str] = field(default_factory=dict)  # user -> secret
    server: uvicorn.Server | None = None

    @property
    def base(self) -> str:
        return self.url + "/v1"

    def client(self, user: str = "olivia", **kwargs: object):  # type: ignore[no-untyped-def]
        import openai

        return openai.OpenAI(api_key=self.keys.get(user, user), base_url=self.base, max_retries=0, **kwargs)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(wb: Workbench) -> Iterator[Server]:
    port = free_port()
    config = uvicorn.Config(create_app(wb), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        assert thread.is_alive(), "the API server stopped while starting"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", wb, server=server)
    finally:
        server.should_exit = True
        thread.join(30)


def world(root: Path, **settings: object) -> Workbench:
    wb = Workbench(load_settings(env={}, secrets_file=root / "none.toml", data_dir=root / "data", **settings))
    admin = wb.actor("admin")
    for name in USERS:
        wb.users.add(admin, name, password=PASSWORD)
    return wb


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a test module: olivia owns 'kb', ed edits it, vic views it, sam is a stranger, dan is disabled."""
    wb = world(tmp_path_factory.mktemp("api"), max_upload_mb=1)
    for running in serve(wb):
        for name in ("admin", *USERS):
            running.keys[name] = wb.keys.create(wb.actor(name), f"{name}'s test key").secret
        wb.users.set_disabled(wb.actor("admin"), "dan", True)
        yield running
