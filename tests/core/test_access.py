"""Who may do what, enforced in core: every public Workbench operation against six kinds of user."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core import access
from core.catalog import new_id
from core.config import Settings
from core.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, WorkbenchError
from core.evaluation import Question
from core.ingest import Upload
from core.models import RoleChoice
from core.options import AskOptions, ChunkSettings, SearchOptions
from core.records import Actor, Role
from core.workbench import Workbench
from core.workbench.chat import Chat
from core.workbench.documents import Documents
from core.workbench.files import Attach, Files, Jobs
from core.workbench.groups import Groups
from core.workbench.keys import Keys
from core.workbench.models import Models
from core.workbench.search import Evaluations, Search
from core.workbench.stores import Stores
from core.workbench.usage import Usage
from core.workbench.users import Users
from tests.conftest import database_url, sign_in
from tests.postgres import POSTGRESQL, SQLITE

ACTORS = ("admin", "olivia", "ed", "vic", "sam", "dan")  # admin, owner, editor, viewer, stranger, disabled
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=[SQLITE, POSTGRESQL])
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Workbench:
    """The permission matrix runs on a SQLite catalog and on a real PostgreSQL one."""
    from core.config import load_settings

    root = tmp_path_factory.mktemp("access")
    url = database_url(request.param, request, root / "catalog.db")
    wb = Workbench(load_settings(env={}, secrets_file=root / "none.toml", data_dir=root / "data", database_url=url))
    for name in ACTORS[1:]:
        wb.users.add(wb.actor("admin"), name, password=PASSWORD)
    wb.stores.create(wb.actor("olivia"), "kb")
    wb.documents.ingest(wb.actor("olivia"), "kb", [Upload("notes.txt", b"The launch is planned for the third of May.")])
    wb.stores.grant(wb.actor("olivia"), "kb", "ed", Role.EDITOR)
    wb.stores.grant(wb.actor("olivia"), "kb", "vic", Role.VIEWER)
    wb.stores.grant(wb.actor("olivia"), "kb", "dan", Role.EDITOR)
    wb.users.set_disabled(wb.actor("admin"), "dan", True)
    return wb


def _throwaway(wb: Workbench, name: str) -> str:
    """A store owned by olivia with the same grants as kb, for operations that destroy what they touch."""
    wb.stores.create(wb.actor("olivia"), name)
    for user, role in (("ed", Role.EDITOR), ("vic", Role.VIEWER), ("dan", Role.EDITOR)):
        wb.stores.grant(wb.actor("olivia"), name, user, role)
    return name


def _group(wb: Workbench, name: str) -> str:
    """An empty group made by the administrator, for operations on groups."""
    wb.groups.create(wb.actor("admin"), name)
    return name


def _vics_conversation(wb: Workbench) -> str:
    """A conversation of vic's (the viewer) on kb, with one answer."""
    store = wb.catalog.get_store("kb")
    conversation = wb.catalog.create_conversation(user="vic", title="When is the launch?", stores=[store], options={})
    wb.catalog.add_messages(
        conversation,
        [{"role": "user", "content": "When is the launch?"}, {"role": "assistant", "content": "In May."}],
    )
    return conversation


def _vics_answer(wb: Workbench) -> int:
    return wb.catalog.messages(_vics_conversation(wb))[-1].id


def _export_bytes(wb: Workbench) -> bytes:
    return wb.stores.export(wb.actor("admin"), "kb", fmt="jsonl").path.read_bytes()


QUESTIONS = [Question("When is the launch?", "notes.txt")]


def _saved_set(wb: Workbench, name: str = "launch") -> str:
    wb.evaluations.save(wb.actor("ed"), "kb", name, QUESTIONS)
    return name


Operation = Callable[[Workbench, str], Any]
EVERYONE = {"admin", "olivia", "ed", "vic", "sam"}  # every enabled user
READERS = {"admin", "olivia", "ed", "vic"}
EDITORS = {"admin", "olivia", "ed"}
OWNERS = {"admin", "olivia"}
ADMINS = {"admin"}
VIC = {"vic"}  # a conversation is its author's alone, administrators included
NOUNS = {"users": Users, "groups": Groups, "stores": Stores, "documents": Documents, "search": Search, "evaluations": Evaluations,
         "chat": Chat, "usage": Usage, "keys": Keys, "files": Files, "jobs": Jobs, "models": Models}  # fmt: skip


def _key_of(wb: Workbench, user: str) -> str:
    return wb.keys.create(wb.actor(user), f"key for the matrix {new_id()[:6]}").key.id


def _file_of(wb: Workbench, user: str) -> str:
    """An uploaded file of `user` (of the administrator when `user` is disabled and cannot upload)."""
    owner = "admin" if user == "dan" else user
    return wb.files.upload(wb.actor(owner), f"{owner}.txt", f"A note uploaded by {owner}.".encode()).id


def _kb_file(wb: Workbench) -> str:
    """A file olivia added to kb (queued: the matrix runs no worker)."""
    file_id = _file_of(wb, "olivia")
    wb.jobs.add(wb.actor("olivia"), "kb", [Attach(file_id)])
    return file_id


def _connection(wb: Workbench) -> str:
    """A model connection the administrator made (nothing listens at its address: no call is made)."""
    admin = wb.actor("admin")
    name = f"c{new_id()[:8]}"
    return wb.models.add(admin, name, "openai_compatible", api_base="http://127.0.0.1:9/v1", models=["m"]).id


def _kb_id(wb: Workbench) -> str:
    return wb.catalog.get_store("kb").id


MATRIX: dict[str, tuple[Operation, set[str]]] = {
    "models.choices": (lambda wb, u: wb.models.choices(wb.actor(u), "chat"), EVERYONE),
    "models.default": (lambda wb, u: wb.models.default(wb.actor(u), "chat"), EVERYONE),
    "models.target": (lambda wb, u: wb.models.target(wb.actor(u), "local/smollm2-135m"), EVERYONE),
    "models.usable": (lambda wb, u: wb.models.usable(wb.actor(u)), EVERYONE),
    "models.entries": (lambda wb, u: wb.models.entries(wb.actor(u)), ADMINS),
    "models.connections": (lambda wb, u: wb.models.connections(wb.actor(u)), ADMINS),
    "models.roles": (lambda wb, u: wb.models.roles(wb.actor(u)), ADMINS),
    "models.server_models": (lambda wb, u: wb.models.server_models(wb.actor(u), "gemini"), ADMINS),
    "models.add": (
        lambda wb, u: wb.models.add(
            wb.actor(u), f"m-{u}", "openai_compatible", api_base="http://127.0.0.1:9/v1", models=["m"]
        ),
        ADMINS,
    ),
    "models.edit": (lambda wb, u: wb.models.edit(wb.actor(u), _connection(wb), models=["n"]), ADMINS),
    "models.remove": (lambda wb, u: wb.models.remove(wb.actor(u), _connection(wb)), ADMINS),
    "models.test": (lambda wb, u: wb.models.test(wb.actor(u), "local/all-minilm-l6-v2"), ADMINS),
    "models.set_roles": (lambda wb, u: wb.models.set_roles(wb.actor(u), {"judge": RoleChoice()}), ADMINS),
    "models.set_role": (lambda wb, u: wb.models.set_role(wb.actor(u), "judge", default=""), ADMINS),
    "models.local_servers": (lambda wb, u: wb.models.local_servers(wb.actor(u)), ADMINS),
    "keys.create": (lambda wb, u: wb.keys.create(wb.actor(u), f"key of {u}"), EVERYONE),
    "keys.mine": (lambda wb, u: wb.keys.mine(wb.actor(u)), EVERYONE),
    "keys.all": (lambda wb, u: wb.keys.all(wb.actor(u)), ADMINS),
    "keys.revoke": (lambda wb, u: wb.keys.revoke(wb.actor(u), _key_of(wb, "olivia")), OWNERS),  # hers, or an admin
    "files.upload": (lambda wb, u: wb.files.upload(wb.actor(u), "a.txt", b"Some text."), EVERYONE),
    "files.mine": (lambda wb, u: wb.files.mine(wb.actor(u)), EVERYONE),
    "files.get": (lambda wb, u: wb.files.get(wb.actor(u), _file_of(wb, "ed")), {"admin", "ed"}),
    "files.delete": (lambda wb, u: wb.files.delete(wb.actor(u), _file_of(wb, "ed")), {"admin", "ed"}),
    "jobs.add": (lambda wb, u: wb.jobs.add(wb.actor(u), "kb", [Attach(_file_of(wb, u))]), EDITORS),
    "jobs.of": (lambda wb, u: wb.jobs.of(wb.actor(u), "kb"), READERS),
    "jobs.get": (lambda wb, u: wb.jobs.get(wb.actor(u), "kb", _kb_file(wb)), READERS),
    "jobs.files": (lambda wb, u: wb.jobs.files(wb.actor(u), "kb"), READERS),
    "jobs.counts": (lambda wb, u: wb.jobs.counts(wb.actor(u), "kb"), READERS),
    "jobs.file": (lambda wb, u: wb.jobs.file(wb.actor(u), "kb", _kb_file(wb)), READERS),
    "jobs.wait": (lambda wb, u: wb.jobs.wait(wb.actor(u), "kb", _kb_file(wb), timeout_s=0.1), READERS),
    "jobs.cancel": (
        lambda wb, u: wb.jobs.cancel(wb.actor(u), "kb", [j.id for j in wb.jobs.of(wb.actor("admin"), "kb")]),
        EDITORS,
    ),
    "jobs.forget": (lambda wb, u: wb.jobs.forget(wb.actor(u), "kb", _kb_file(wb)), EDITORS),
    "jobs.set_attributes": (
        lambda wb, u: wb.jobs.set_attributes(wb.actor(u), "kb", _kb_file(wb), {"team": "x"}),
        EDITORS,
    ),
    "search.embed": (lambda wb, u: wb.search.embed(wb.actor(u), ["launch"]), EVERYONE),
    "search.files": (lambda wb, u: wb.search.files(wb.actor(u), "kb", ["launch"]), READERS),
    "stores.summary": (lambda wb, u: wb.stores.summary(wb.actor(u), "kb"), READERS),
    "stores.by_id": (lambda wb, u: wb.stores.by_id(wb.actor(u), _kb_id(wb)), READERS),
    "stores.set_ocr": (lambda wb, u: wb.stores.set_ocr(wb.actor(u), "kb", "always"), OWNERS),
    "stores.policy": (lambda wb, u: wb.stores.policy(wb.actor(u), "kb"), READERS),
    "stores.set_policy": (lambda wb, u: wb.stores.set_policy(wb.actor(u), "kb", {"injection": "flag"}), OWNERS),
    "stores.set_policy limits": (
        lambda wb, u: wb.stores.set_policy(wb.actor(u), "kb", {"tokens_per_day_user": 1000}),
        ADMINS,
    ),
    "usage.limits": (lambda wb, u: wb.usage.limits(wb.actor(u)), EVERYONE),
    "usage.decisions": (lambda wb, u: wb.usage.decisions(wb.actor(u)), ADMINS),
    "usage.decisions of a store": (lambda wb, u: wb.usage.decisions(wb.actor(u), store="kb"), OWNERS),
    "stores.describe": (lambda wb, u: wb.stores.describe(wb.actor(u), "kb", metadata={"by": u}), OWNERS),
    "usage.call": (lambda wb, u: wb.usage.call(wb.actor(u), "GET /v1/models", latency_ms=1.0, status=200), EVERYONE),
    "users.add": (lambda wb, u: wb.users.add(wb.actor(u), f"new-{u}"), ADMINS),
    "users.all": (lambda wb, u: wb.users.all(wb.actor(u)), ADMINS),
    "users.names": (lambda wb, u: wb.users.names(wb.actor(u)), EVERYONE),
    "users.renew": (lambda wb, u: wb.users.renew(wb.actor(u)), EVERYONE),  # their own session, nobody else's
    "users.sign_out": (lambda wb, u: wb.users.sign_out(wb.actor(u)), EVERYONE),
    "groups.all": (lambda wb, u: wb.groups.all(wb.actor(u)), EVERYONE),
    "groups.create": (lambda wb, u: wb.groups.create(wb.actor(u), f"team-{u}"), ADMINS),
    "groups.delete": (lambda wb, u: wb.groups.delete(wb.actor(u), _group(wb, f"gone-{u}")), ADMINS),
    "groups.add_member": (lambda wb, u: wb.groups.add_member(wb.actor(u), _group(wb, f"add-{u}"), "sam"), ADMINS),
    "groups.remove_member": (lambda wb, u: wb.groups.remove_member(wb.actor(u), _group(wb, f"rm-{u}"), "sam"), ADMINS),
    "stores.grant_group": (
        lambda wb, u: wb.stores.grant_group(wb.actor(u), "kb", _group(wb, f"share-{u}"), "viewer"),
        OWNERS,
    ),
    "stores.revoke_group": (
        lambda wb, u: wb.stores.revoke_group(wb.actor(u), "kb", _group(wb, f"unshare-{u}")),
        OWNERS,
    ),
    "stores.group_grants": (lambda wb, u: wb.stores.group_grants(wb.actor(u), "kb"), OWNERS),
    "stores.access": (lambda wb, u: wb.stores.access(wb.actor(u), "kb"), OWNERS),
    "users.set_password": (lambda wb, u: wb.users.set_password(wb.actor(u), "sam", PASSWORD), ADMINS),
    "users.set_admin": (lambda wb, u: wb.users.set_admin(wb.actor(u), "vic", False), ADMINS),
    "users.set_disabled": (lambda wb, u: wb.users.set_disabled(wb.actor(u), "vic", False), ADMINS),
    "stores.grant": (lambda wb, u: wb.stores.grant(wb.actor(u), "kb", "vic", "read"), OWNERS),
    "stores.revoke": (lambda wb, u: wb.stores.revoke(wb.actor(u), _throwaway(wb, f"revoke-{u}"), "vic"), OWNERS),
    "stores.grants": (lambda wb, u: wb.stores.grants(wb.actor(u), "kb"), OWNERS),
    "stores.create": (lambda wb, u: wb.stores.create(wb.actor(u), f"mine-{u}"), EVERYONE),
    "stores.get": (lambda wb, u: wb.stores.get(wb.actor(u), "kb"), READERS),
    "stores.visible": (lambda wb, u: wb.stores.visible(wb.actor(u)), EVERYONE),
    "stores.rename": (lambda wb, u: wb.stores.rename(wb.actor(u), _throwaway(wb, f"old-{u}"), f"renamed-{u}"), OWNERS),
    # allowed here means "not refused": the same model is refused as bad input, after the permission check
    "stores.rebuild": (
        lambda wb, u: wb.stores.rebuild(wb.actor(u), _throwaway(wb, f"rebuild-{u}"), "local/all-minilm-l6-v2"),
        OWNERS,
    ),
    "stores.search_defaults": (lambda wb, u: wb.stores.search_defaults(wb.actor(u), "kb"), READERS),
    "stores.set_redaction": (lambda wb, u: wb.stores.set_redaction(wb.actor(u), "kb", False), OWNERS),
    "stores.set_glossary": (
        lambda wb, u: wb.stores.set_glossary(wb.actor(u), "kb", "ARR = annual recurring revenue"),
        OWNERS,
    ),
    "stores.set_search_defaults": (
        lambda wb, u: wb.stores.set_search_defaults(wb.actor(u), "kb", SearchOptions(top_k=7)),
        EDITORS,
    ),
    "stores.delete": (lambda wb, u: wb.stores.delete(wb.actor(u), _throwaway(wb, f"doomed-{u}")), OWNERS),
    "chat.ask": (lambda wb, u: wb.chat.ask(wb.actor(u), "kb", "When is the launch?"), READERS),
    "chat.start": (lambda wb, u: wb.chat.start(wb.actor(u), "kb", "When is the launch?").done.wait(60), READERS),
    "chat.running": (lambda wb, u: wb.chat.running(wb.actor(u), _vics_conversation(wb)), EVERYONE),
    "chat.forget": (lambda wb, u: wb.chat.forget(wb.actor(u), "kb"), READERS),
    "stores.export": (lambda wb, u: wb.stores.export(wb.actor(u), "kb"), OWNERS),
    "stores.import_": (
        lambda wb, u: wb.stores.import_(wb.actor(u), _export_bytes(wb), filename="kb.jsonl", name=f"imported-{u}"),
        EVERYONE,
    ),
    "documents.of": (lambda wb, u: wb.documents.of(wb.actor(u), "kb"), READERS),
    "documents.page": (lambda wb, u: wb.documents.page(wb.actor(u), "kb"), READERS),
    "documents.names": (lambda wb, u: wb.documents.names(wb.actor(u), ["kb"]), READERS),
    "documents.chunks": (
        lambda wb, u: wb.documents.chunks(wb.actor(u), "kb", wb.documents.of(wb.actor("admin"), "kb")[0].id),
        READERS,
    ),
    "documents.page_image": (
        lambda wb, u: wb.documents.page_image(wb.actor(u), "kb", wb.documents.of(wb.actor("admin"), "kb")[0].id, 1),
        READERS,
    ),
    "documents.chunk": (
        lambda wb, u: wb.documents.chunk(wb.actor(u), "kb", wb.documents.of(wb.actor("admin"), "kb")[0].id, 0),
        READERS,
    ),
    "documents.changes": (
        lambda wb, u: wb.documents.changes(wb.actor(u), "kb", wb.documents.of(wb.actor("admin"), "kb")[0].id),
        READERS,
    ),
    "documents.set_chunk_enabled": (
        lambda wb, u: wb.documents.set_chunk_enabled(
            wb.actor(u), "kb", wb.documents.of(wb.actor("admin"), "kb")[0].id, 0, enabled=True
        ),
        EDITORS,
    ),
    "documents.edit_chunk": (
        lambda wb, u: wb.documents.edit_chunk(
            wb.actor(u),
            "kb",
            wb.documents.of(wb.actor("admin"), "kb")[0].id,
            0,
            "The launch is planned for the third of May.",
        ),
        EDITORS,
    ),
    "documents.delete": (
        lambda wb, u: wb.documents.delete(
            wb.actor(u),
            "kb",
            wb.documents.ingest(wb.actor("olivia"), "kb", [Upload(f"{u}.txt", f"Scratch note by {u}.".encode())])[
                0
            ].document_id,
        ),
        EDITORS,
    ),
    "documents.parse_options": (lambda wb, u: wb.documents.parse_options(wb.actor(u), "kb"), EDITORS),
    "documents.ingest": (
        lambda wb, u: wb.documents.ingest(wb.actor(u), "kb", [Upload(f"by-{u}.txt", f"Written by {u}.".encode())]),
        EDITORS,
    ),
    "documents.ingest_paths": (lambda wb, u: wb.documents.ingest_paths(wb.actor(u), "kb", [Path(__file__)]), EDITORS),
    "documents.check": (lambda wb, u: wb.documents.check(wb.actor(u), "a.txt", b"Some text."), EVERYONE),
    "documents.preview": (
        lambda wb, u: wb.documents.preview(wb.actor(u), "a.txt", b"Some text.", chunking=ChunkSettings()),
        EVERYONE,
    ),
    "search.run": (lambda wb, u: wb.search.run(wb.actor(u), "kb", "launch"), READERS),
    "chat.conversations": (lambda wb, u: wb.chat.conversations(wb.actor(u)), EVERYONE),
    "chat.conversation": (lambda wb, u: wb.chat.conversation(wb.actor(u), _vics_conversation(wb)), VIC),
    "chat.rename": (lambda wb, u: wb.chat.rename(wb.actor(u), _vics_conversation(wb), "Launch"), VIC),
    "chat.delete": (lambda wb, u: wb.chat.delete(wb.actor(u), _vics_conversation(wb)), VIC),
    "chat.feedback": (lambda wb, u: wb.chat.feedback(wb.actor(u), _vics_answer(wb), rating=1), VIC),
    "chat.export": (lambda wb, u: wb.chat.export(wb.actor(u), _vics_conversation(wb)), VIC),
    "chat.latest": (lambda wb, u: wb.chat.latest(wb.actor(u), "kb"), READERS),
    "usage.report": (lambda wb, u: wb.usage.report(wb.actor(u)), EVERYONE),
    "usage.audit": (lambda wb, u: wb.usage.audit(wb.actor(u)), ADMINS),
    "usage.audit_totals": (lambda wb, u: wb.usage.audit_totals(wb.actor(u)), ADMINS),
    "evaluations.run": (
        lambda wb, u: wb.evaluations.run(wb.actor(u), "kb", QUESTIONS, {"default": SearchOptions()}),
        READERS,
    ),
    "evaluations.run_answers": (
        lambda wb, u: wb.evaluations.run_answers(
            wb.actor(u), "kb", QUESTIONS, {"quoted": AskOptions(mode="extractive")}
        ),
        READERS,
    ),
    "evaluations.save": (lambda wb, u: wb.evaluations.save(wb.actor(u), "kb", f"set-{u}", QUESTIONS), READERS),
    "evaluations.sets": (lambda wb, u: wb.evaluations.sets(wb.actor(u), "kb"), READERS),
    "evaluations.get": (lambda wb, u: wb.evaluations.get(wb.actor(u), "kb", _saved_set(wb)), READERS),
    # its author (ed) or whoever manages the store; vic may read the store but did not write the set
    "evaluations.delete": (
        lambda wb, u: wb.evaluations.delete(wb.actor(u), "kb", _saved_set(wb, f"by-ed-{u}")),
        {"admin", "olivia", "ed"},
    ),
}


def operations() -> dict[str, Callable[..., Any]]:
    """Every public operation of every noun the workbench hands out, as 'noun.method'."""
    return {
        f"{noun}.{name}": method
        for noun, kind in NOUNS.items()
        for name, method in inspect.getmembers(kind, inspect.isfunction)
        if not name.startswith("_")
    }


def test_the_matrix_covers_every_public_operation(world: Workbench) -> None:
    assert {n for n, v in vars(world).items() if type(v) in NOUNS.values()} == set(NOUNS)
    acting = {n for n, method in operations().items() if "actor" in inspect.signature(method).parameters}
    assert {name.split(" ")[0] for name in MATRIX} == acting  # "noun.method what": one more case of an operation


@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_every_operation_takes_the_actor_first(operation: str) -> None:
    first = list(inspect.signature(operations()[operation.split(" ")[0]]).parameters.values())[1]
    assert first.name == "actor" and first.default is inspect.Parameter.empty
    assert first.annotation in ("Actor", Actor)


@pytest.mark.parametrize("operation", sorted(MATRIX))
@pytest.mark.parametrize("actor", ACTORS)
def test_permission_matrix(world: Workbench, operation: str, actor: str) -> None:
    run, allowed = MATRIX[operation]
    if actor in allowed:
        try:
            assert run(world, actor) is not False
        except InvalidInput as exc:  # past the permission check, refused for what was asked
            assert operation == "stores.rebuild" and "already uses" in str(exc)
        return
    with pytest.raises((PermissionDenied, NotFound)) as refused:
        run(world, actor)
    message = str(refused.value)
    assert message.endswith(".") and "Traceback" not in message
    if actor == "dan":
        assert "disabled" in message
    assert isinstance(refused.value, WorkbenchError)
    if isinstance(refused.value, NotFound):  # what a user may not see reads as missing, never as forbidden
        assert message.startswith(("There is no store named", "There is no store with the id", "There is no such"))


@pytest.mark.parametrize("nobody", ["", "ghost"])
def test_an_empty_or_unknown_user_is_nobody(world: Workbench, nobody: str) -> None:
    with pytest.raises(PermissionDenied):
        world.stores.visible(world.actor(nobody))
    with pytest.raises(PermissionDenied):
        world.users.add(world.actor(nobody), "eve", admin=True)


def test_a_stranger_and_a_missing_store_read_the_same(world: Workbench) -> None:
    with pytest.raises(NotFound) as hidden:
        world.search.run(world.actor("sam"), "kb", "launch")
    with pytest.raises(NotFound) as missing:
        world.search.run(world.actor("sam"), "no-such-store", "launch")
    assert str(hidden.value) == access.missing_store("kb") and str(missing.value) == access.missing_store(
        "no-such-store"
    )


def test_a_disabled_user_cannot_log_in_and_an_enabled_one_can(world: Workbench) -> None:
    assert sign_in(world, "vic", PASSWORD) == "vic"
    assert sign_in(world, "  VIC ", PASSWORD) == "vic"  # as the login form trims and lowercases
    for name, password in (("vic", "wrong password"), ("ghost", PASSWORD)):
        with pytest.raises(PermissionDenied, match="Wrong user name or password"):
            sign_in(world, name, password)
    with pytest.raises(PermissionDenied, match="disabled"):  # said only to someone who knows her password
        sign_in(world, "dan", PASSWORD)
    with pytest.raises(InvalidInput, match="Type your user name and your password"):
        sign_in(world, "vic", "")


def test_users_change_their_own_password_with_the_current_one(settings: Settings) -> None:
    wb = Workbench(settings)
    wb.users.add(wb.actor("admin"), "alice", password=PASSWORD)
    with pytest.raises(PermissionDenied, match="current password is not right"):
        wb.users.set_password(wb.actor("alice"), "alice", "a brand new secret", current="guess")
    wb.users.set_password(wb.actor("alice"), "alice", "a brand new secret", current=PASSWORD)
    assert sign_in(wb, "alice", "a brand new secret") == "alice"
    with pytest.raises(PermissionDenied, match="Only an administrator"):
        wb.users.set_password(wb.actor("alice"), "admin", "taking over now")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("short", "at least 8"),
        ("é" * 40, "at most 72 bytes"),
        (" a long secret", "cannot start or end with a space"),
        ("a long secret\t", "cannot start or end with a space"),
    ],
)
def test_passwords_bcrypt_cannot_hold_are_refused(password: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        access.hash_password(password)


def test_core_hashes_and_the_login_page_agree() -> None:
    """The login page checks with streamlit-authenticator's Hasher; core's hashes must pass it, and the reverse."""
    stauth = pytest.importorskip("streamlit_authenticator")
    assert stauth.Hasher.check_pw(PASSWORD, access.hash_password(PASSWORD))
    assert access.password_matches(PASSWORD, stauth.Hasher.hash(PASSWORD))
    assert not access.password_matches("wrong password", stauth.Hasher.hash(PASSWORD))


def test_the_last_administrator_stays(settings: Settings) -> None:
    wb = Workbench(settings)
    with pytest.raises(PermissionDenied, match="cannot disable your own account"):
        wb.users.set_disabled(wb.actor("admin"), "admin", True)
    with pytest.raises(PermissionDenied, match="last administrator"):
        wb.users.set_admin(wb.actor("admin"), "admin", False)


def test_old_role_words_still_work(world: Workbench) -> None:
    assert Role("read") is Role.VIEWER and Role("write") is Role.EDITOR and Role("owner") is Role.OWNER
    with pytest.raises(ValueError):
        Role("superuser")


@pytest.mark.parametrize("name", ["bad\nname", "esc\x1b[31m", "tab\there"])
def test_names_with_control_characters_are_refused(world: Workbench, name: str) -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        world.stores.create(world.actor("olivia"), name)
    with pytest.raises(InvalidInput, match="control characters"):
        world.users.add(world.actor("admin"), name)


def test_user_names_are_lowercase_as_the_login_form_makes_them(world: Workbench) -> None:
    with pytest.raises(InvalidInput, match="lowercase"):
        world.users.add(world.actor("admin"), "Alice")


def test_the_first_administrator_is_created_once(settings: Settings) -> None:
    wb = Workbench(settings)
    assert wb.users.needs_first_admin()  # the built-in admin has no password yet
    wb.users.create_first_admin("Boss ", PASSWORD)
    assert not wb.users.needs_first_admin() and wb.catalog.get_user(sign_in(wb, "boss", PASSWORD)).is_admin
    with pytest.raises(PermissionDenied, match="already exists"):
        wb.users.create_first_admin("mallory", PASSWORD)


def test_the_environment_can_set_the_first_admin_password(settings: Settings) -> None:
    wb = Workbench(settings.replace(admin_password=PASSWORD))
    assert sign_in(wb, "admin", PASSWORD) == "admin"
    again = Workbench(settings.replace(admin_password="another password entirely"))  # only on a first start
    assert sign_in(again, "admin", PASSWORD) == "admin"


def test_the_cookie_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    key = access.cookie_key("", tmp_path)
    assert len(key) >= 40 and access.cookie_key("", tmp_path) == key
    assert (tmp_path / "cookie.key").stat().st_mode & 0o077 == 0
    assert access.cookie_key("from-secrets", tmp_path) == "from-secrets"


def test_a_taken_store_name_is_not_confirmed_to_those_who_may_not_see_it(world: Workbench) -> None:
    """Store names are unique across the workbench; a stranger learns only that a name is not available."""
    with pytest.raises(WorkbenchError) as refused:
        world.stores.create(world.actor("sam"), "kb")
    assert str(refused.value) == "The name 'kb' is not available; choose another name."
    world.stores.create(world.actor("sam"), "sams-own")
    with pytest.raises(WorkbenchError, match="^The name 'kb' is not available"):
        world.stores.rename(world.actor("sam"), "sams-own", "kb")
    with pytest.raises(WorkbenchError, match="'kb' already exists"):
        world.stores.create(world.actor("vic"), "kb")  # a viewer sees kb: told plainly
    assert "kb" not in [s.store.name for s in world.stores.visible(world.actor("sam"))]


def test_a_store_shared_with_a_group_is_shared_with_its_members_while_they_belong(
    any_database: str, tmp_path: Path
) -> None:
    from core.config import load_settings

    wb = Workbench(load_settings(env={}, secrets_file=tmp_path / "none.toml", data_dir=tmp_path / "data", database_url=any_database))  # fmt: skip
    admin = wb.actor("admin")
    for name in ("olivia", "ana", "bo"):
        wb.users.add(admin, name, password=PASSWORD)
    wb.stores.create(wb.actor("olivia"), "finance")
    wb.groups.create(admin, "analysts")
    wb.groups.add_member(admin, "analysts", "ana")
    wb.stores.grant_group(wb.actor("olivia"), "finance", "analysts", "viewer")
    assert [s.store.name for s in wb.stores.visible(wb.actor("ana"))] == ["finance"]
    assert wb.stores.visible(wb.actor("bo")) == []
    with pytest.raises(PermissionDenied, match="You may only read .finance."):  # a viewer through the group
        wb.documents.ingest(wb.actor("ana"), "finance", [Upload("a.txt", b"Ana's note.")])
    wb.stores.grant(wb.actor("olivia"), "finance", "ana", Role.EDITOR)  # the higher of the two rights wins
    assert wb.documents.ingest(wb.actor("ana"), "finance", [Upload("a.txt", b"Ana's note.")])[0].chunks == 1
    wb.groups.add_member(admin, "analysts", "bo")
    assert [(a.user, a.role.value, a.via) for a in wb.stores.access(wb.actor("olivia"), "finance")] == [
        ("ana", "editor", "shared directly"),
        ("bo", "viewer", "group analysts"),
        ("olivia", "owner", "owner"),
    ]
    wb.groups.remove_member(admin, "analysts", "bo")
    assert wb.stores.visible(wb.actor("bo")) == []
    wb.groups.add_member(admin, "analysts", "bo")
    wb.groups.delete(admin, "analysts")
    assert wb.stores.visible(wb.actor("bo")) == [] and wb.stores.group_grants(wb.actor("olivia"), "finance") == []
    with pytest.raises(AlreadyExists):
        wb.groups.create(admin, "team")
        wb.groups.create(admin, "team")
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        wb.groups.add_member(admin, "team", "nobody")
    with pytest.raises(PermissionDenied, match="Only an administrator can manage groups"):
        wb.groups.create(wb.actor("olivia"), "mine")
