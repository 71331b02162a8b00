"""Who may do what, enforced in core: every public Workbench operation against six kinds of user."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core import access
from core.config import Settings
from core.errors import InvalidInput, NotFound, PermissionDenied, WorkbenchError
from core.evaluation import Question
from core.ingest import Upload
from core.options import ChunkSettings, SearchOptions
from core.records import Role
from core.workbench import ACTING, Workbench
from tests.conftest import database_url
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
        wb.add_user(name, user="admin", password=PASSWORD)
    wb.create_store("kb", user="olivia")
    wb.ingest("kb", [Upload("notes.txt", b"The launch is planned for the third of May.")], user="olivia")
    wb.grant("kb", "ed", Role.EDITOR, user="olivia")
    wb.grant("kb", "vic", Role.VIEWER, user="olivia")
    wb.grant("kb", "dan", Role.EDITOR, user="olivia")
    wb.set_disabled("dan", True, user="admin")
    return wb


def _throwaway(wb: Workbench, name: str) -> str:
    """A store owned by olivia with the same grants as kb, for operations that destroy what they touch."""
    wb.create_store(name, user="olivia")
    for user, role in (("ed", Role.EDITOR), ("vic", Role.VIEWER), ("dan", Role.EDITOR)):
        wb.grant(name, user, role, user="olivia")
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
    return wb.export_store("kb", user="admin", fmt="jsonl").path.read_bytes()


QUESTIONS = [Question("When is the launch?", "notes.txt")]


def _saved_set(wb: Workbench, name: str = "launch") -> str:
    wb.save_question_set("kb", name, QUESTIONS, user="ed")
    return name


Operation = Callable[[Workbench, str], Any]
EVERYONE = {"admin", "olivia", "ed", "vic", "sam"}  # every enabled user
READERS = {"admin", "olivia", "ed", "vic"}
EDITORS = {"admin", "olivia", "ed"}
OWNERS = {"admin", "olivia"}
ADMINS = {"admin"}
VIC = {"vic"}  # a conversation is its author's alone, administrators included

MATRIX: dict[str, tuple[Operation, set[str]]] = {
    "add_user": (lambda wb, u: wb.add_user(f"new-{u}", user=u), ADMINS),
    "list_users": (lambda wb, u: wb.list_users(user=u), ADMINS),
    "set_password": (lambda wb, u: wb.set_password("sam", PASSWORD, user=u), ADMINS),
    "set_admin": (lambda wb, u: wb.set_admin("vic", False, user=u), ADMINS),
    "set_disabled": (lambda wb, u: wb.set_disabled("vic", False, user=u), ADMINS),
    "grant": (lambda wb, u: wb.grant("kb", "vic", "read", user=u), OWNERS),
    "revoke": (lambda wb, u: wb.revoke(_throwaway(wb, f"revoke-{u}"), "vic", user=u), OWNERS),
    "grants": (lambda wb, u: wb.grants("kb", user=u), OWNERS),
    "create_store": (lambda wb, u: wb.create_store(f"mine-{u}", user=u), EVERYONE),
    "store": (lambda wb, u: wb.store("kb", user=u), READERS),
    "list_stores": (lambda wb, u: wb.list_stores(user=u), EVERYONE),
    "rename_store": (lambda wb, u: wb.rename_store(_throwaway(wb, f"old-{u}"), f"renamed-{u}", user=u), OWNERS),
    # allowed here means "not refused": the same model is refused as bad input, after the permission check
    "rebuild_store": (
        lambda wb, u: wb.rebuild_store(_throwaway(wb, f"rebuild-{u}"), "local/all-minilm-l6-v2", user=u),
        OWNERS,
    ),
    "search_defaults": (lambda wb, u: wb.search_defaults("kb", user=u), READERS),
    "set_search_defaults": (lambda wb, u: wb.set_search_defaults("kb", SearchOptions(top_k=7), user=u), EDITORS),
    "delete_store": (lambda wb, u: wb.delete_store(_throwaway(wb, f"doomed-{u}"), user=u), OWNERS),
    "ask": (lambda wb, u: wb.ask("kb", "When is the launch?", user=u), READERS),
    "forget_chat": (lambda wb, u: wb.forget_chat("kb", user=u), READERS),
    "export_store": (lambda wb, u: wb.export_store("kb", user=u), OWNERS),
    "import_store": (
        lambda wb, u: wb.import_store(_export_bytes(wb), filename="kb.jsonl", name=f"imported-{u}", user=u),
        EVERYONE,
    ),
    "documents": (lambda wb, u: wb.documents("kb", user=u), READERS),
    "document_chunks": (
        lambda wb, u: wb.document_chunks("kb", wb.documents("kb", user="admin")[0].id, user=u),
        READERS,
    ),
    "delete_document": (
        lambda wb, u: wb.delete_document(
            "kb",
            wb.ingest("kb", [Upload(f"{u}.txt", f"Scratch note by {u}.".encode())], user="olivia")[0].document_id,
            user=u,
        ),
        EDITORS,
    ),
    "parse_options": (lambda wb, u: wb.parse_options(user=u, store="kb"), EDITORS),
    "ingest": (lambda wb, u: wb.ingest("kb", [Upload(f"by-{u}.txt", f"Written by {u}.".encode())], user=u), EDITORS),
    "ingest_paths": (lambda wb, u: wb.ingest_paths("kb", [Path(__file__)], user=u), EDITORS),
    "preview": (lambda wb, u: wb.preview("a.txt", b"Some text.", chunking=ChunkSettings(), user=u), EVERYONE),
    "search": (lambda wb, u: wb.search("kb", "launch", user=u), READERS),
    "conversations": (lambda wb, u: wb.conversations(user=u), EVERYONE),
    "conversation": (lambda wb, u: wb.conversation(_vics_conversation(wb), user=u), VIC),
    "rename_conversation": (lambda wb, u: wb.rename_conversation(_vics_conversation(wb), "Launch", user=u), VIC),
    "delete_conversation": (lambda wb, u: wb.delete_conversation(_vics_conversation(wb), user=u), VIC),
    "feedback": (lambda wb, u: wb.feedback(_vics_answer(wb), rating=1, user=u), VIC),
    "export_conversation": (lambda wb, u: wb.export_conversation(_vics_conversation(wb), user=u), VIC),
    "latest_conversation": (lambda wb, u: wb.latest_conversation("kb", user=u), READERS),
    "usage": (lambda wb, u: wb.usage(user=u), EVERYONE),
    "evaluate": (lambda wb, u: wb.evaluate("kb", QUESTIONS, {"default": SearchOptions()}, user=u), READERS),
    "save_question_set": (lambda wb, u: wb.save_question_set("kb", f"set-{u}", QUESTIONS, user=u), READERS),
    "question_sets": (lambda wb, u: wb.question_sets("kb", user=u), READERS),
    "question_set": (lambda wb, u: wb.question_set("kb", _saved_set(wb), user=u), READERS),
    # its author (ed) or whoever manages the store; vic may read the store but did not write the set
    "delete_question_set": (
        lambda wb, u: wb.delete_question_set("kb", _saved_set(wb, f"by-ed-{u}"), user=u),
        {"admin", "olivia", "ed"},
    ),
}


def test_the_matrix_covers_every_public_operation() -> None:
    public = {name for name, _ in inspect.getmembers(Workbench, inspect.isfunction) if not name.startswith("_")}
    assert public >= ACTING and set(MATRIX) == ACTING


@pytest.mark.parametrize("operation", sorted(MATRIX))
@pytest.mark.parametrize("actor", ACTORS)
def test_permission_matrix(world: Workbench, operation: str, actor: str) -> None:
    run, allowed = MATRIX[operation]
    if actor in allowed:
        try:
            assert run(world, actor) is not False
        except InvalidInput as exc:  # past the permission check, refused for what was asked
            assert operation == "rebuild_store" and "already uses" in str(exc)
        return
    with pytest.raises((PermissionDenied, NotFound)) as refused:
        run(world, actor)
    message = str(refused.value)
    assert message.endswith(".") and "Traceback" not in message
    if actor == "dan":
        assert "disabled" in message
    assert isinstance(refused.value, WorkbenchError)
    if isinstance(refused.value, NotFound):  # what a user may not see reads as missing, never as forbidden
        assert message.startswith(("There is no store named", "There is no such"))


@pytest.mark.parametrize("operation", sorted(ACTING))
def test_forgetting_the_user_fails_loudly(operation: str) -> None:
    parameter = inspect.signature(getattr(Workbench, operation)).parameters["user"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty


@pytest.mark.parametrize("nobody", ["", "ghost"])
def test_an_empty_or_unknown_user_is_nobody(world: Workbench, nobody: str) -> None:
    with pytest.raises(PermissionDenied):
        world.list_stores(user=nobody)
    with pytest.raises(PermissionDenied):
        world.add_user("eve", admin=True, user=nobody)


def test_a_stranger_and_a_missing_store_read_the_same(world: Workbench) -> None:
    with pytest.raises(NotFound) as hidden:
        world.search("kb", "launch", user="sam")
    with pytest.raises(NotFound) as missing:
        world.search("no-such-store", "launch", user="sam")
    assert str(hidden.value) == access.missing_store("kb") and str(missing.value) == access.missing_store(
        "no-such-store"
    )


def test_a_disabled_user_cannot_log_in_and_an_enabled_one_can(world: Workbench) -> None:
    assert world.check_login("vic", PASSWORD).name == "vic"
    assert world.check_login("  VIC ", PASSWORD).name == "vic"  # as the login form trims and lowercases
    for name, password in (("dan", PASSWORD), ("vic", "wrong password"), ("ghost", PASSWORD), ("vic", "")):
        with pytest.raises(PermissionDenied, match="Wrong user name or password"):
            world.check_login(name, password)


def test_users_change_their_own_password_with_the_current_one(settings: Settings) -> None:
    wb = Workbench(settings)
    wb.add_user("alice", user="admin", password=PASSWORD)
    with pytest.raises(PermissionDenied, match="current password is not right"):
        wb.set_password("alice", "a brand new secret", current="guess", user="alice")
    wb.set_password("alice", "a brand new secret", current=PASSWORD, user="alice")
    assert wb.check_login("alice", "a brand new secret").name == "alice"
    with pytest.raises(PermissionDenied, match="Only an administrator"):
        wb.set_password("admin", "taking over now", user="alice")


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "cannot be empty"), ("   ", "cannot be empty"), ("short", "at least 8"), ("é" * 40, "at most 72 bytes")],
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
        wb.set_disabled("admin", True, user="admin")
    with pytest.raises(PermissionDenied, match="last administrator"):
        wb.set_admin("admin", False, user="admin")


def test_old_role_words_still_work(world: Workbench) -> None:
    assert Role("read") is Role.VIEWER and Role("write") is Role.EDITOR and Role("owner") is Role.OWNER
    with pytest.raises(ValueError):
        Role("superuser")


@pytest.mark.parametrize("name", ["bad\nname", "esc\x1b[31m", "tab\there"])
def test_names_with_control_characters_are_refused(world: Workbench, name: str) -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        world.create_store(name, user="olivia")
    with pytest.raises(InvalidInput, match="control characters"):
        world.add_user(name, user="admin")


def test_user_names_are_lowercase_as_the_login_form_makes_them(world: Workbench) -> None:
    with pytest.raises(InvalidInput, match="lowercase"):
        world.add_user("Alice", user="admin")


def test_the_first_administrator_is_created_once(settings: Settings) -> None:
    wb = Workbench(settings)
    assert wb.needs_first_admin()  # the built-in admin has no password yet
    wb.create_first_admin("Boss ", PASSWORD)
    assert not wb.needs_first_admin() and wb.check_login("boss", PASSWORD).is_admin
    with pytest.raises(PermissionDenied, match="already exists"):
        wb.create_first_admin("mallory", PASSWORD)


def test_the_environment_can_set_the_first_admin_password(settings: Settings) -> None:
    wb = Workbench(settings.replace(admin_password=PASSWORD))
    assert wb.check_login("admin", PASSWORD).name == "admin"
    again = Workbench(settings.replace(admin_password="another password entirely"))  # only on a first start
    assert again.check_login("admin", PASSWORD).name == "admin"


def test_login_credentials_hold_enabled_users_with_a_password(world: Workbench) -> None:
    credentials = world.login_credentials()["usernames"]
    assert "dan" not in credentials and "admin" not in credentials  # disabled; no password
    assert credentials["vic"]["roles"] == ["user"] and access.password_matches(PASSWORD, credentials["vic"]["password"])
    assert list(world.login_credentials(only="vic")["usernames"]) == ["vic"]  # a signed-in session's own entry
    assert world.login_credentials(only="dan")["usernames"] == {}


def test_five_failed_logins_lock_the_account_until_a_new_password(settings: Settings) -> None:
    wb = Workbench(settings)
    wb.add_user("eve", user="admin", password=PASSWORD)
    for _ in range(access.MAX_LOGIN_FAILURES):
        with pytest.raises(PermissionDenied, match="Wrong user name or password"):
            wb.check_login("eve", "guess")
    with pytest.raises(PermissionDenied, match="Too many failed sign-ins"):
        wb.check_login("eve", PASSWORD)  # even the right password waits
    assert wb.login_credentials()["usernames"]["eve"]["failed_login_attempts"] == access.MAX_LOGIN_FAILURES
    wb.set_password("eve", "a fresh start now", user="admin")
    assert wb.check_login("eve", "a fresh start now").name == "eve"


def test_failed_logins_stop_counting_after_the_lockout(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    last = datetime(2026, 1, 1, tzinfo=UTC)
    assert access.failures_in_force(5, last, now=last + access.LOCKOUT / 2) == 5
    assert access.failures_in_force(5, last, now=last + access.LOCKOUT) == 0


def test_the_cookie_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    key = access.cookie_key("", tmp_path)
    assert len(key) >= 40 and access.cookie_key("", tmp_path) == key
    assert (tmp_path / "cookie.key").stat().st_mode & 0o077 == 0
    assert access.cookie_key("from-secrets", tmp_path) == "from-secrets"


def test_a_taken_store_name_is_not_confirmed_to_those_who_may_not_see_it(world: Workbench) -> None:
    """Store names are unique across the workbench; a stranger learns only that a name is not available."""
    with pytest.raises(WorkbenchError) as refused:
        world.create_store("kb", user="sam")
    assert str(refused.value) == "The name 'kb' is not available; choose another name."
    world.create_store("sams-own", user="sam")
    with pytest.raises(WorkbenchError, match="^The name 'kb' is not available"):
        world.rename_store("sams-own", "kb", user="sam")
    with pytest.raises(WorkbenchError, match="'kb' already exists"):
        world.create_store("kb", user="vic")  # a viewer sees kb: told plainly
    assert "kb" not in [s.store.name for s in world.list_stores(user="sam")]
