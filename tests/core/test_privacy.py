"""Personal data kept from remote models: what is found (and what a filing's figures are not taken for), and a
loopback provider that proves no redacted value reaches it from ingest, search or chat, while the bundled local
models and stores that do not ask are left alone; the counts land in the usage records and the audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import privacy
from core.config import Settings
from core.ingest import Upload
from core.options import AskOptions
from core.workbench import Workbench
from tests.stub_provider import StubProvider

PERSONAL = {
    "email": "jane.doe@example.com",
    "phone": "+44 20 7946 0958",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "national_id": "123-45-6789",  # a US social security number of the valid shape
}
LETTER = (
    "The customer Jane Doe wrote from jane.doe@example.com and asked to be called on +44 20 7946 0958. "
    "She paid with card 4111 1111 1111 1111 into IBAN DE89 3704 0044 0532 0130 00; her SSN is 123-45-6789. "
    "The refund of the launch deposit is due on the third of May."
)
FILING = (
    "Net revenue was $2,345,678 thousand in fiscal 2023 against $2,101,443 thousand in 2022 (page 47). "
    "Fiscal years 2023 2024 2025 2026 are shown; CUSIP 037833100; 15,943,425,000 shares were outstanding "
    "as of October 20, 2023. Commission file number 001-36743. Item 7A, note 12.3, ratio 1.25x, 4,000,000 RSUs. "
    "Total assets 3525551234; EUR 6 502 530 000; a table row: Revenue 400 537 887 525 993 4 152 345 678."
)


def test_each_kind_is_found_and_replaced_by_its_label() -> None:
    text, counts = privacy.redact(LETTER)
    assert all(value not in text for value in PERSONAL.values())
    assert counts == {kind: 1 for kind in PERSONAL}
    assert "[email]" in text and "[card]" in text and "third of May" in text


def test_a_filings_figures_are_not_taken_for_personal_data() -> None:
    assert privacy.redact(FILING) == (FILING, {})


def test_outside_a_scope_or_for_local_models_nothing_changes() -> None:
    assert privacy.outgoing([LETTER], local=False) == ([LETTER], {})
    with privacy.scope(on=True):
        assert privacy.outgoing([LETTER], local=True) == ([LETTER], {})
        [sent], counts = privacy.outgoing([LETTER], local=False)
    assert sent != LETTER and sum(counts.values()) == 5


@pytest.fixture
def stub(tmp_path: Path, settings: Settings) -> tuple[Workbench, StubProvider]:
    with StubProvider(reply="The refund is due on the third of May [1].") as provider:
        models = tmp_path / "models.yaml"
        params = f"api_base: '{provider.api_base}', api_key: sk-stub-test-key"
        models.write_text(
            "model_list:\n"
            f"  - model_name: remote-embed\n    litellm_params: {{model: openai/embed, {params}}}\n"
            "    model_info: {mode: embedding}\n"
            f"  - model_name: remote-chat\n    litellm_params: {{model: openai/chat, {params}}}\n"
        )
        yield Workbench(settings.replace(models_file=models)), provider


def _sent(provider: StubProvider) -> str:
    return json.dumps([r["body"] for r in provider.requests])


@pytest.mark.parametrize("on", [True, False])
def test_no_redacted_value_reaches_a_remote_provider(stub: tuple[Workbench, StubProvider], on: bool) -> None:
    wb, provider = stub
    admin = wb.actor("admin")
    wb.stores.create(admin, "letters", embedding="remote-embed")
    wb.stores.set_redaction(admin, "letters", on)
    provider.requests.clear()  # the embedding model's probe of its dimension came before
    wb.documents.ingest(admin, "letters", [Upload("letter.txt", LETTER.encode())])
    wb.search.run(admin, "letters", "refund for jane.doe@example.com")
    stream, _ = wb.chat.ask(admin, "letters", "When is the refund for +44 20 7946 0958 due?", options=AskOptions(model="remote-chat"))  # fmt: skip
    assert "third of May" in "".join(stream)
    sent, paths = _sent(provider), {r["path"].rsplit("/", 1)[-1] for r in provider.requests}
    assert paths == {"embeddings", "completions"}  # ingest and search embedded remotely; the answer was written
    leaked = [kind for kind, value in PERSONAL.items() if value in sent]
    if not on:  # the control: a store that does not ask sends the text as it is
        assert leaked == list(PERSONAL)
        return
    assert leaked == [] and "[email]" in sent and "third of May" in sent
    remote = [e for e in wb.catalog.usage() if e.model in ("remote-embed", "remote-chat")]
    assert sum(e.redactions.get("email", 0) for e in remote) >= 2  # the document's and the query's
    assert sum(e.redactions.get("phone", 0) for e in remote if e.kind == "chat") >= 1  # the question's
    audit = wb.usage.audit(admin)
    assert audit and all(not e.model.startswith("local/") for e in audit)
    assert any(e.redactions for e in audit) and all(e.kind != "ingest" for e in audit)


def test_the_audit_is_for_administrators_and_keeps_its_retention(
    stub: tuple[Workbench, StubProvider], tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from core.errors import PermissionDenied
    from core.records import UsageEvent

    wb = Workbench(stub[0].settings.replace(audit_days=30))
    wb.users.add(wb.actor("admin"), "vic")
    with pytest.raises(PermissionDenied, match="Only an administrator"):
        wb.usage.audit(wb.actor("vic"))
    old = datetime.now(UTC) - timedelta(days=wb.settings.audit_days + 1)
    for model in ("remote-chat", "local/smollm2-135m"):
        wb.catalog.record_usage(UsageEvent(kind="chat", user="vic", model=model, created_at=old))
    wb.catalog.record_usage(UsageEvent(kind="chat", user="vic", model="remote-chat"))
    assert [e.created_at > old for e in wb.usage.audit(wb.actor("admin"))] == [True]  # the old one is gone
    assert Workbench(wb.settings.replace(audit_days=0)).usage.forget_expired() == 0  # by default kept forever
    assert any(e.model.startswith("local/") for e in wb.catalog.usage())  # local use is not the audit's to delete


def test_a_stopped_answer_still_records_what_was_kept_from_the_provider(settings: Settings, tmp_path: Path) -> None:
    with StubProvider(reply="The refund is due " + "in a while, " * 200, delay=0.05) as slow:
        models = tmp_path / "models.yaml"
        models.write_text(
            "model_list:\n  - model_name: slow-chat\n"
            f"    litellm_params: {{model: openai/slow, api_base: '{slow.api_base}', api_key: sk-stub-test-key}}\n"
        )
        wb = Workbench(settings.replace(models_file=models))
        admin = wb.actor("admin")
        wb.stores.create(admin, "letters")  # embedded by the bundled model: only the answer goes out
        wb.stores.set_redaction(admin, "letters", True)
        wb.documents.ingest(admin, "letters", [Upload("letter.txt", LETTER.encode())])
        job = wb.chat.start(admin, "letters", "When is the refund for jane.doe@example.com due?", options=AskOptions(model="slow-chat"))  # fmt: skip
        while not job.answer.text and not job.done.is_set():
            job.done.wait(timeout=0.05)  # until the first words arrive
        job.stop()
        assert job.done.wait(timeout=60)
        assert all(value not in _sent(slow) for value in PERSONAL.values())
    [chat] = [e for e in wb.catalog.usage() if e.kind == "chat"]
    assert chat.redactions.get("email", 0) >= 2  # the question's and the passage's, on the stopped answer's record
