"""The stores page, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import load_settings
from core.ingest import Upload
from core.workbench import Workbench

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    yield tmp_path / "data"
    st.cache_resource.clear()


def test_nobody_signed_in_sees_no_store(data_dir: Path) -> None:
    Workbench(load_settings()).as_user("admin").create_store("secret")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.dataframe
    assert "Sign in" in at.warning[0].value


def test_empty_workbench_says_how_to_start(data_dir: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["username"] = "admin"
    at.run()
    assert not at.exception
    assert at.title[0].value == "RAG Workbench"
    assert "No stores yet" in at.info[0].value


def test_stores_are_listed_with_their_counts(data_dir: Path) -> None:
    workbench = Workbench(load_settings()).as_user("admin")
    workbench.create_store("finance")
    workbench.ingest("finance", [Upload("a.txt", b"Revenue grew."), Upload("b.txt", b"Costs fell.")])
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["username"] = "admin"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.to_dict("records")[0] | {"Created": None} == {
        "Store": "finance",
        "Documents": 2,
        "Chunks": 2,
        "Backend": "lancedb",
        "Embedding model": "local/all-minilm-l6-v2",
        "Owner": "admin",
        "Created": None,
    }
