"""Models connected by an administrator (core.workbench.models): real HTTP providers on loopback, the key sealed and
shown nowhere, tests that say what failed, role defaults that the next answer follows, local servers found."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import providers
from core.config import Settings
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.ingest import Upload
from core.models import RoleChoice
from core.options import AskOptions
from core.workbench import Workbench
from tests.stub_provider import StubProvider

KEY = "sk-stubkey-0123456789abcdefABCDEF"


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    with StubProvider(reply="The launch is on the third of May.", models=("small", "embed-small"), key=KEY) as stub:
        yield stub


def test_connect_list_test_and_remove(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    listed = workbench.models.server_models(admin, "openai_compatible", api_base=server.api_base, key=KEY)
    assert listed == ["embed-small", "small"]
    made = workbench.models.add(admin, "Team", "openai_compatible", api_base=server.api_base, key=KEY, models=listed)
    assert made.name == "team" and made.key_prefix == KEY[:6] + "…"
    assert {(m.name, m.kind) for m in made.models} == {("small", "chat"), ("embed-small", "embedding")}
    assert "team/small" in workbench.models.choices(admin, "chat")
    assert "team/embed-small" in workbench.models.choices(admin, "embedding")
    chat = workbench.models.test(admin, "team/small")
    assert chat.ok and "The launch" in chat.message, chat
    assert server.requests[-1]["body"]["model"] == "small" and server.requests[-1]["body"]["max_tokens"] == 20
    embedded = workbench.models.test(admin, "team/embed-small")
    assert embedded.ok and "8-number vector" in embedded.message
    workbench.models.remove(admin, "team")
    assert "team/small" not in workbench.models.choices(admin, "chat")
    with pytest.raises(NotFound, match="no such connection"):
        workbench.models.remove(admin, "team")


def test_a_test_says_what_failed(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    workbench.models.add(admin, "wrong", "openai_compatible", api_base=server.api_base, key="sk-wrong-key-000000",
                         models=["small"])  # fmt: skip
    workbench.models.add(admin, "typo", "openai_compatible", api_base=server.api_base, key=KEY, models=["smal"])
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    workbench.models.add(admin, "gone", "openai_compatible", api_base=f"http://127.0.0.1:{dead}/v1", models=["x"])
    wrong = workbench.models.test(admin, "wrong/small")
    assert not wrong.ok and wrong.message.startswith("No valid API key"), wrong
    typo = workbench.models.test(admin, "typo/smal")
    assert not typo.ok and "smal" in typo.message and "does not exist" in typo.message.lower(), typo
    gone = workbench.models.test(admin, "gone/x")
    assert not gone.ok and gone.message.startswith("Could not reach") and str(dead) in gone.message, gone
    with pytest.raises(InvalidInput, match="refused the key"):
        workbench.models.server_models(admin, "openai_compatible", api_base=server.api_base, key="sk-wrong-0000000")
    with pytest.raises(InvalidInput, match="Could not reach"):
        workbench.models.server_models(admin, "ollama", api_base=f"http://127.0.0.1:{dead}")
    failed = [e for e in workbench.usage.audit(admin) if e.kind == "test" and e.error]
    assert len(failed) == 3  # each test call is recorded, failed or not


def test_bad_connections_are_refused_in_words(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    cases = [
        ({"name": "Bad Name!", "provider": "openai_compatible", "api_base": server.api_base}, "lowercase letters"),
        ({"name": "a", "provider": "nope"}, "not a provider"),
        ({"name": "a", "provider": "openai"}, "needs an API key"),
        ({"name": "a", "provider": "openai_compatible"}, "needs the address"),
        ({"name": "a", "provider": "openai_compatible", "api_base": "ftp://x"}, "not a server address"),
        ({"name": "a", "provider": "azure", "api_base": "https://x.openai.azure.com", "key": "k" * 10}, "API version"),
        ({"name": "a", "provider": "openai_compatible", "api_base": server.api_base, "models": []}, "at least one"),
        ({"name": "a", "provider": "openai_compatible", "api_base": server.api_base, "models": ["two words"]},
         "not a model name"),
    ]  # fmt: skip
    for given, said in cases:
        with pytest.raises(InvalidInput, match=said):
            workbench.models.add(admin, **{"models": ["small"], **given})  # type: ignore[arg-type]
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, models=["small"])
    with pytest.raises(InvalidInput, match="already a connection named 'team'"):
        workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, models=["small"])
    assert [c.name for c in workbench.models.connections(admin)] == ["team"]


def test_only_administrators_manage_models(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    workbench.users.add(admin, "ann", password="a long password")
    ann = workbench.actor("ann")
    with pytest.raises(PermissionDenied):
        workbench.models.add(ann, "mine", "openai_compatible", api_base=server.api_base, models=["small"])
    with pytest.raises(PermissionDenied):
        workbench.models.connections(ann)
    assert workbench.models.choices(ann, "chat") == ["local/smollm2-135m"]  # what she may use, she sees


def test_the_key_is_sealed_and_shown_nowhere(
    workbench: Workbench, server: StubProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, key=KEY, models=["small"])
    workbench.models.set_role(admin, "chat", default="team/small")
    workbench.stores.create(admin, "kb")
    workbench.documents.ingest(admin, "kb", [Upload("notes.txt", b"The launch is planned for the third of May.")])
    stream, answer = workbench.chat.ask(admin, "kb", "When is the launch?", options=AskOptions())
    assert "third of May" in "".join(stream)
    assert server.requests[-1]["headers"]["Authorization"] == f"Bearer {KEY}"  # it was used
    with workbench.catalog.engine.connect() as conn:  # the catalog holds it sealed only
        dump = "\n".join(str(tuple(r)) for t in ("model_connections", "app_settings", "usage_events")
                         for r in conn.execute(sa.text(f"SELECT * FROM {t}")))  # fmt: skip
    assert KEY not in dump and KEY[6:] not in dump and "team/small" in dump
    surfaces = {
        "logs": caplog.text,
        "records": repr(workbench.models.connections(admin)) + repr(workbench.models.entries(admin)),
        "usage": repr(workbench.usage.audit(admin)),
        "conversation export": workbench.chat.export(admin, answer.conversation_id),
    }
    for where, text in surfaces.items():
        assert KEY not in text and KEY[6:] not in text, where
    data = Path(workbench.settings.data_dir)
    for path in data.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert KEY.encode() not in path.read_bytes(), path


def test_another_secrets_key_cannot_open_it(settings: Settings, server: StubProvider) -> None:
    first = Workbench(settings.replace(secrets_key="one secret for this team"))
    first.models.add(first.actor("admin"), "team", "openai_compatible", api_base=server.api_base, key=KEY,
                     models=["small"])  # fmt: skip
    other = Workbench(settings.replace(secrets_key="another secret entirely"))
    tested = other.models.test(other.actor("admin"), "team/small")
    assert not tested.ok and "cannot be read with this server's secrets key" in tested.message
    assert KEY not in tested.message


def test_role_defaults_and_choices(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, key=KEY, models=["small"])
    workbench.models.set_role(admin, "chat", default="team/small", allowed=["team/small"])
    assert workbench.models.default(admin, "chat") == "team/small"
    assert workbench.models.choices(admin, "chat") == ["team/small"]
    assert list(workbench.models.usable(admin)) == ["team/small", "local/all-minilm-l6-v2"]
    workbench.stores.create(admin, "kb")
    workbench.documents.ingest(admin, "kb", [Upload("notes.txt", b"The launch is planned for the third of May.")])
    with pytest.raises(InvalidInput, match="not one of the chat models offered here: team/small"):
        workbench.chat.ask(admin, "kb", "When?", options=AskOptions(model="local/smollm2-135m"))
    with pytest.raises(InvalidInput, match="not a chat model"):
        workbench.models.set_role(admin, "chat", default="nope/x")
    workbench.models.remove(admin, "team")  # the configured default answers again, every model offered again
    assert workbench.models.default(admin, "chat") == "local/smollm2-135m"
    assert workbench.models.roles(admin)["chat"].allowed is None


def test_a_second_replica_sees_a_connection(settings: Settings, server: StubProvider) -> None:
    first, second = Workbench(settings), Workbench(settings)
    assert "team/small" not in second.models.choices(second.actor("admin"), "chat")
    first.models.add(first.actor("admin"), "team", "openai_compatible", api_base=server.api_base, key=KEY,
                     models=["small"])  # fmt: skip
    second.services.models_changed()  # what READ_EVERY_S seconds do by themselves
    assert "team/small" in second.models.choices(second.actor("admin"), "chat")
    assert second.models.test(second.actor("admin"), "team/small").ok


def test_the_server_config_is_read_only(workbench: Workbench, server: StubProvider, tmp_path: Path) -> None:
    from core.models import ModelRegistry

    config = tmp_path / "models.yaml"
    config.write_text("model_list:\n  - model_name: team/small\n    litellm_params: {model: openai/small}\n")
    workbench.services.models = ModelRegistry.load(config, workbench.services.models.connected)
    admin = workbench.actor("admin")
    assert {e.name: e.source for e in workbench.models.entries(admin)}["team/small"] == "config"
    with pytest.raises(InvalidInput, match="already a model of the server's config"):
        workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, models=["small"])


def test_local_servers_are_found_on_loopback_only(workbench: Workbench, server: StubProvider) -> None:
    port = server.server.server_address[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    ports = providers.local_ports(f"openai:{port},ollama:{dead},ollama:{port}")
    assert ports == [("openai_compatible", port), ("ollama", dead), ("ollama", port)]
    found = providers.discover(ports)  # the stub wants a key: listing refused, so not offered
    assert found == []
    with StubProvider(models=("qwen",)) as open_server:
        free = open_server.server.server_address[1]
        workbench.services.settings = workbench.settings.replace(local_model_ports=f"openai:{free},ollama:{dead}")
        looked = workbench.models.local_servers(workbench.actor("admin"))
        assert [(s.provider, s.api_base, s.models) for s in looked.servers] == [
            ("openai_compatible", f"http://127.0.0.1:{free}/v1", ("qwen",))
        ]
        assert workbench.models.local_servers(workbench.actor("admin")).at == looked.at  # kept until "again"
    again = workbench.models.local_servers(workbench.actor("admin"), again=True)
    assert again.servers == () and again.at is not None and again.at > looked.at
    for bad in ("10.0.0.1:11434", "ollama:99999", "http:80"):
        with pytest.raises(InvalidInput, match="kind:port"):
            providers.local_ports(bad)


def test_an_ollama_server_connects_and_answers(workbench: Workbench) -> None:
    from tests.stub_ollama import StubOllama

    admin = workbench.actor("admin")
    with StubOllama(models=("llama3.2:1b", "nomic-embed-text:latest"), reply="It is planned for May.") as ollama:
        listed = workbench.models.server_models(admin, "ollama", api_base=ollama.api_base)
        assert listed == ["llama3.2:1b", "nomic-embed-text:latest"]
        workbench.models.add(admin, "ollama", "ollama", api_base=ollama.api_base, models=listed)
        assert workbench.models.test(admin, "ollama/llama3.2:1b").ok
        workbench.models.set_role(admin, "chat", default="ollama/llama3.2:1b")
        workbench.stores.create(admin, "kb")
        workbench.documents.ingest(admin, "kb", [Upload("notes.txt", b"The launch is planned for the third of May.")])
        stream, answer = workbench.chat.ask(admin, "kb", "When is the launch?")
        assert "".join(stream) == "It is planned for May."
        assert answer.model == "ollama/llama3.2:1b" and ollama.requests[-1]["path"] == "/api/chat"
        assert ollama.requests[-1]["body"]["model"] == "llama3.2:1b"
        assert "third of May" in json.dumps(ollama.requests[-1]["body"]["messages"])  # the source went with it


def test_a_model_that_sees_images_is_offered_for_vision(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, models=["gpt-4o-mini", "small"])
    assert workbench.models.choices(admin, "vision") == ["team/gpt-4o-mini"]  # LiteLLM's model map says it sees
    workbench.models.set_role(admin, "vision", default="team/gpt-4o-mini")
    assert workbench.documents.parse_options(admin, None).vision_model == "openai/gpt-4o-mini"


def test_a_keyless_server_never_gets_the_servers_own_key(workbench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-deployments-own-key-000000")
    admin = workbench.actor("admin")
    with StubProvider(models=("bge-embed", "small")) as local:
        workbench.models.add(
            admin, "llama", "openai_compatible", api_base=local.api_base, models=["bge-embed", "small"]
        )
        assert workbench.models.test(admin, "llama/bge-embed").ok and workbench.models.test(admin, "llama/small").ok
        sent = {r["headers"].get("Authorization") for r in local.requests}
    assert sent == {"Bearer none"}


def test_choices_hold_when_lists_and_connections_change(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, key=KEY,
                         models=["small", "embed-small"])  # fmt: skip
    assert workbench.models.choices(admin, "embedding")[0] == "local/all-minilm-l6-v2"  # new stores stay offline
    workbench.models.set_role(admin, "chat", default="", allowed=["team/small"])  # no default chosen: the first allowed
    assert workbench.models.default(admin, "chat") == "team/small"
    assert workbench.models.choices(admin, "chat") == ["team/small"]
    with pytest.raises(InvalidInput, match="is not a vision model the workbench knows"):
        workbench.models.set_role(admin, "vision", default="", allowed=["team/small"])  # not a vision model
    workbench.models.edit(admin, "team", models=["embed-small"])  # the only allowed chat model goes
    assert workbench.models.roles(admin)["chat"] == RoleChoice("", None)  # every model is offered again
    assert workbench.models.default(admin, "chat") == "local/smollm2-135m"
    with pytest.raises(InvalidInput, match="Rerank models have no default"):
        workbench.models.set_role(admin, "rerank", default="team/embed-small")
    with pytest.raises(InvalidInput, match="'local' names the bundled models"):
        workbench.models.add(admin, "local", "openai_compatible", api_base=server.api_base, models=["x"])


def test_what_users_may_pick_is_enforced_everywhere(workbench: Workbench, server: StubProvider) -> None:
    from core.options import Reranker, SearchOptions

    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, key=KEY,
                         models=["gpt-4o-mini", "small", "rerank-small"])  # fmt: skip
    workbench.models.set_roles(admin, {"vision": RoleChoice("", ("team/gpt-4o-mini",)),
                                       "rerank": RoleChoice("", ())})  # fmt: skip
    assert workbench.models.roles(admin)["rerank"].allowed is None  # an empty list: all of them
    workbench.models.set_role(admin, "judge", default="team/small", allowed=["team/small"])
    with pytest.raises(InvalidInput, match="not one of the vision models"):
        workbench.documents.parse_options(admin, None, vision_model="local/smollm2-135m")
    workbench.stores.create(admin, "kb")
    judged = SearchOptions(rerank=Reranker.parse("llm:local/smollm2-135m"))
    with pytest.raises(InvalidInput, match="not one of the judge models"):
        workbench.search.run(admin, "kb", "launch", options=judged)


def test_a_model_a_store_embeds_with_cannot_be_removed(workbench: Workbench, server: StubProvider) -> None:
    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, key=KEY,
                         models=["embed-small", "small"])  # fmt: skip
    workbench.stores.create(admin, "remote", embedding="team/embed-small")
    for change in (lambda: workbench.models.remove(admin, "team"),
                   lambda: workbench.models.edit(admin, "team", models=["small"])):  # fmt: skip
        with pytest.raises(InvalidInput, match="'remote' embed with team/embed-small: rebuild it"):
            change()
    assert "team/embed-small" in workbench.models.choices(admin, "embedding")


def test_a_saved_key_goes_to_its_own_server_only(workbench: Workbench, server: StubProvider) -> None:
    from core.vault import prefix

    admin = workbench.actor("admin")
    workbench.models.add(admin, "team", "openai_compatible", api_base=server.api_base, key=KEY, models=["small"])
    elsewhere = "http://127.0.0.2:9/v1"
    with pytest.raises(InvalidInput, match="type the key again"):
        workbench.models.edit(admin, "team", api_base=elsewhere)
    with pytest.raises(InvalidInput, match="type the key again"):
        workbench.models.server_models(admin, "openai_compatible", connection="team", api_base=elsewhere)
    assert workbench.models.edit(admin, "team", api_base=elsewhere, key=KEY).api_base == elsewhere
    assert (prefix(KEY), prefix("short-key"), prefix("")) == (KEY[:6] + "…", "•••", "")
