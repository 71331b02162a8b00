"""AppTest fixtures: a fresh data directory per test, the shared resource cache cleared, pages run as a user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.workbench import Workbench
from ui.session import workbench as app_workbench

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PASSWORD = "a long enough secret"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    st.cache_resource.clear()
    yield tmp_path / "data"
    app_workbench().stop_jobs()  # its job worker ends with the test, not with the test process
    st.cache_resource.clear()


@pytest.fixture
def workbench(data_dir: Path) -> Workbench:
    """The app's own cached workbench (same data directory), for seeding and checking: pages see what it does."""
    return app_workbench()


def page_as(workbench: Workbench, page: str, user: str) -> AppTest:
    """One page script run as a signed-in user, as app.py would set it up."""
    return signed_in(AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=120), workbench, user)


def signed_in(at: AppTest, workbench: Workbench, user: str) -> AppTest:
    """The session state a sign-in leaves: the tab's session (as core issues it) and who is acting."""
    me = workbench.actor(user)
    at.session_state["session"] = workbench.users.renew(me)
    at.session_state["actor"] = me
    return at


def texts(at: AppTest) -> str:
    """Everything the page wrote, for content checks."""
    parts = [
        e.value
        for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def settled(at: AppTest, workbench: Workbench, user: str, *, timeout: float = 300.0) -> AppTest:
    """Wait until the answer the page started in the background is saved, then draw the page again (AppTest does
    not run the page's refreshing fragment by itself)."""
    conversation = at.session_state["conversation"] if "conversation" in at.session_state else None  # noqa: SIM401
    me = workbench.actor(user)
    deadline = time.monotonic() + timeout
    while conversation and (job := workbench.chat.running(me, conversation)) is not None:
        assert time.monotonic() < deadline, "the answer did not finish"
        job.done.wait(timeout=1.0)
    return at.run()
