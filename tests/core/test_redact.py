"""Secrets are never stored or shown: a provider that echoes the Authorization header in its error (as a
misconfigured proxy does) leaves no key in the error message, the saved answer, the usage rows or the logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from core import redact
from core.errors import ModelError
from core.ingest import Upload
from core.models import ModelRegistry
from core.options import AskOptions, SearchOptions
from core.workbench import Workbench
from tests.stub_provider import StubProvider

KEY = "sk-live-4f9c2b7e1d0a6c3b8e5f"
ENV_KEY = "proxy-virtual-key-77e1c0ffee"
ROOT = Path(__file__).resolve().parents[2]


def test_known_values_and_token_shapes_are_blanked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", ENV_KEY)
    redact.remember(["zilliz-token-0123456789"])
    text = redact.redact(
        f"proxy said: Authorization: Bearer abc.def-123 key={ENV_KEY} token zilliz-token-0123456789 "
        "other sk-abcdefghijklmnop, url postgresql://wb:hunter2hunter2@db:5432/catalog"
    )
    assert ENV_KEY not in text and "zilliz-token" not in text and "abc.def-123" not in text
    assert "sk-abcdefghijklmnop" not in text and "hunter2" not in text
    assert "Bearer [redacted]" in text and "postgresql://wb:[redacted]@db:5432/catalog" in text
    assert redact.redact("The launch is planned for May; local models, true story.") == (
        "The launch is planned for May; local models, true story."
    )


@pytest.fixture
def echoing(workbench: Workbench, tmp_path: Path):  # type: ignore[no-untyped-def]
    with StubProvider(fail_status=500) as stub:
        models = tmp_path / "models.yaml"
        models.write_text(
            "model_list:\n"
            "  - model_name: echoing-proxy\n"
            f"    litellm_params: {{model: openai/stub, api_base: '{stub.api_base}', api_key: {KEY}}}\n"
        )
        workbench.services.models = ModelRegistry.load(models)
        workbench.services.settings = workbench.settings.replace(models_file=models, model_retries=0)
        workbench.stores.create(workbench.actor("admin"), "kb")
        workbench.documents.ingest(
            workbench.actor("admin"), "kb", [Upload("notes.txt", b"The launch is planned for the third of May.")]
        )
        yield workbench, stub


def test_a_provider_echoing_the_key_leaves_it_nowhere(echoing, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    workbench, stub = echoing
    caplog.set_level(logging.DEBUG)
    stream, answer = workbench.chat.ask(
        workbench.actor("admin"), "kb", "When is the launch?", options=AskOptions(model="echoing-proxy")
    )
    with pytest.raises(ModelError) as failed:
        "".join(stream)
    assert stub.requests and KEY in stub.requests[-1]["headers"]["Authorization"]  # the stub did echo it
    message = str(failed.value)
    assert KEY not in message and "Bearer" not in message.replace("Bearer [redacted]", "")
    assert message.startswith(f"The provider at 127.0.0.1:{stub.server.server_address[1]} could not answer")
    assert "litellm." not in message and "InternalServerError" not in message  # our words, not LiteLLM's classes
    saved = workbench.catalog.messages(answer.conversation_id)
    assert saved[-1].error and KEY not in saved[-1].error
    rows = [e for e in workbench.catalog.usage() if not e.ok]
    assert rows and all(KEY not in (e.error or "") for e in rows)
    assert KEY not in caplog.text


def test_an_unreachable_provider_is_named_by_its_host(workbench: Workbench, tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(
        "model_list:\n  - model_name: gone\n"
        f"    litellm_params: {{model: openai/x, api_base: 'http://127.0.0.1:9/v1', api_key: {KEY}}}\n"
    )
    workbench.services.models = ModelRegistry.load(models)
    workbench.services.settings = workbench.settings.replace(model_retries=0, model_timeout_s=5)
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("notes.txt", b"The launch is planned for the third of May.")]
    )
    stream, _ = workbench.chat.ask(
        workbench.actor("admin"),
        "kb",
        "When is the launch planned?",
        options=AskOptions(model="gone", search=SearchOptions(top_k=1)),
    )
    with pytest.raises(ModelError, match=r"^Could not reach the provider at 127\.0\.0\.1:9 for 'openai/x'"):
        "".join(stream)


def test_the_command_line_prints_no_key(tmp_path: Path) -> None:
    """A real process: what reaches stderr (our error line and any library log) holds no key."""
    with StubProvider(fail_status=500) as stub:
        models = tmp_path / "models.yaml"
        models.write_text(
            "model_list:\n  - model_name: echoing-proxy\n"
            f"    litellm_params: {{model: openai/stub, api_base: '{stub.api_base}', api_key: os.environ/ACME_KEY}}\n"
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "ACME_KEY": KEY,
            "WORKBENCH_DATA_DIR": str(tmp_path / "data"),
            "WORKBENCH_SECRETS_FILE": str(tmp_path / "none.toml"),
            "WORKBENCH_MODELS_FILE": str(models),
            "WORKBENCH_MODEL_RETRIES": "0",
        }
        (tmp_path / "notes.txt").write_text("The launch is planned for the third of May.")
        run = [sys.executable, "-m", "core", "-v"]
        for args in (["store", "create", "kb"], ["ingest", "kb", str(tmp_path / "notes.txt")]):
            subprocess.run([*run, *args], env=env, cwd=ROOT, check=True, capture_output=True)
        done = subprocess.run(
            [*run, "ask", "kb", "When is the launch?", "--model", "echoing-proxy"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 1 and stub.requests
    assert KEY not in done.stderr + done.stdout and "could not answer" in done.stderr
