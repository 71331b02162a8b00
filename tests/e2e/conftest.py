"""A real app server on a free loopback port and a real Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.stub_provider import StubProvider

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "e2e" / "screenshots"  # git-ignored: look at them after a run
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *, tree: Path = ROOT) -> None:
        """The app of `tree` (this checkout, or another version's for a before/after bench) on `data_dir`."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"streamlit-{self.port}.log"
        environment = {
            **os.environ,
            "WORKBENCH_DATA_DIR": str(data_dir),
            "WORKBENCH_SECRETS_FILE": str(data_dir.parent / "no-secrets.toml"),
            **(env or {}),
        }
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "streamlit", "run", "server.py",
                    "--server.port", str(self.port), "--server.address", "127.0.0.1",
                    "--server.headless", "true", "--browser.gatherUsageStats", "false",
                ],
                cwd=tree,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.started = time.perf_counter()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the app did not start; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The app with, besides the bundled models, two provider models: one whose answer always cites [1]
    (LiteLLM's mock response) and one on a loopback stub that streams a long answer slowly (to press Stop)."""
    with StubProvider(reply="The report covers " + "several matters in turn, " * 100, delay=0.05) as slow:
        models = tmp_path / "models.yaml"
        models.write_text(
            "model_list:\n"
            "  - model_name: scripted-citer\n"
            "    litellm_params: {model: openai/scripted, mock_response: 'They cross the plains in July [1].'}\n"
            "  - model_name: scripted-inventor\n"
            "    litellm_params: {model: openai/inventor, mock_response: 'Zebras cross the Serengeti 75469 times [1].'}\n"
            "  - model_name: slow-provider\n"
            f"    litellm_params: {{model: openai/stub, api_base: '{slow.api_base}', api_key: sk-stub-test-key}}\n"
        )
        running = Server(tmp_path / "data", env={"WORKBENCH_MODELS_FILE": str(models)})
        yield running
        running.stop()


def origin(url: str) -> str:
    """scheme-less host:port, so that the app's page (http) and its websocket (ws) count as one origin."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def shot(page: Any, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def idle(page: Any, *, timeout: float = 60_000) -> None:
    """Wait until the app has finished its current run (no status widget, no stale skeleton elements)."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSkeleton]')"
        " && !document.querySelector('[data-stale=true]')",
        timeout=timeout,
    )


NAV = "[data-testid=stPageLink] a"  # our sidebar menu


def open_cited_page(page: Any, toggle: Any, image: Any, *, also: Any = None, timeout: float = 10_000) -> None:
    """Click a cited source's `toggle` until its page `image` (and `also`, if given) shows: a click during a rerun
    can be lost, and a late rerun can draw the source closed again."""
    for _ in range(4):
        if not image.is_visible():
            toggle.click()
        try:
            image.wait_for(timeout=timeout)
            if also is not None:
                also.wait_for(timeout=timeout)
            idle(page)
            if image.is_visible():
                break
        except Exception:
            idle(page)
    image.wait_for(timeout=60_000)


def workbench_of(data_dir: Path) -> Any:
    """The workbench on a test server's data folder, to seed and check what the browser did (same catalog)."""
    from core.config import load_settings
    from core.workbench import Workbench

    return Workbench(load_settings(env={"WORKBENCH_DATA_DIR": str(data_dir)}, secrets_file=data_dir.parent / "none"))


def sign_in(page: Any, url: str, user: str, password: str) -> None:
    """Open the app and sign in through the login form with one click; returns on the Stores page."""
    page.goto(url)
    page.get_by_role("button", name="Sign in").wait_for()
    idle(page)
    page.get_by_label("Username", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Stores").wait_for()
    idle(page)


def create_store(page: Any, name: str) -> None:
    """On the Stores page: make a store with the default settings."""
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create store").click()
    idle(page)


def open_page(page: Any, title: str) -> None:
    page.locator(NAV, has_text=title).click()
    page.get_by_role("heading", name=title).wait_for()
    idle(page)
