"""Models: administrators connect model servers (with their keys, sealed), test them, find the ones running on this
machine, and choose each role's default model and the models users may pick; everyone sees what they may use."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from core import access, llm, providers
from core.catalog import new_id, now
from core.errors import InvalidInput, ModelError, NotFound
from core.models import ROLES, ROLES_KEY, SERVED_KINDS, Connection, ModelEntry, RoleChoice, ServedModel
from core.providers import LocalServer
from core.records import Actor
from core.vault import prefix
from core.workbench.services import Services

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
RESERVED = {"local"}  # the bundled models' prefix: what the Audit leaves out as never leaving the machine
MAX_MODEL = 150  # characters of a served model's name (with the connection's: within the catalog's 200)
LOCAL_KEY = "local_model_servers"
TEST_PROMPT = "Reply with the word OK."
TEST_TEXT = "A short text to embed."


@dataclass(frozen=True)
class Tested:
    model: str
    ok: bool
    message: str  # what happened, in words
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Looked:
    """Model servers found on this machine, and when the app last looked."""

    at: datetime | None
    servers: tuple[LocalServer, ...]


class Models:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog

    # --- what everyone may use ---
    def choices(self, actor: Actor, role: str = "chat") -> list[str]:
        """The models the actor may pick for a role, the default first."""
        return self._s.allowed_models(role)

    def default(self, actor: Actor, role: str = "chat") -> str:
        return self._s.default_model(role)

    def target(self, actor: Actor, name: str) -> str:
        """The LiteLLM model a name calls (`local/...` for a bundled one): what decides how it answers by default."""
        entry = self._s.models.all().get(name)
        return entry.model if entry is not None else name

    def usable(self, actor: Actor) -> dict[str, tuple[str, ...]]:
        """Every model the actor may use, by name, with its kinds (what GET /v1/models lists)."""
        names: dict[str, tuple[str, ...]] = {}
        for kind in ("chat", "embedding", "rerank"):
            for name in self._s.allowed_models(kind):
                names[name] = (*names.get(name, ()), kind)
        return names

    # --- administrators ---
    def entries(self, actor: Actor) -> list[ModelEntry]:
        """Every model the workbench knows (bundled, the server's config file, the Models page's)."""
        access.require_admin(actor.user, "manage models")
        return list(self._s.models.all().values())

    def connections(self, actor: Actor) -> list[Connection]:
        access.require_admin(actor.user, "manage models")
        return self._catalog.connections()

    def roles(self, actor: Actor) -> dict[str, RoleChoice]:
        access.require_admin(actor.user, "manage models")
        return {role: self._s.models.roles().get(role, RoleChoice()) for role in ROLES}

    def server_models(
        self, actor: Actor, provider: str, *, api_base: str = "", key: str = "", connection: str = ""
    ) -> list[str]:
        """The models a server lists ([] when its kind cannot list them); with `connection`, its saved key is used."""
        access.require_admin(actor.user, "manage models")
        if connection:
            found = self._connection(connection)
            if not key:
                _same_host(found, api_base or found.api_base)  # its saved key goes to its own server only
            provider, api_base, key = found.provider, api_base or found.api_base, key or self._key_of(found)
        return providers.list_models(provider, _base(provider, api_base), key.strip())

    def add(
        self,
        actor: Actor,
        name: str,
        provider: str,
        *,
        api_base: str = "",
        key: str = "",
        models: Sequence[str | ServedModel] = (),
        api_version: str = "",
    ) -> Connection:
        """Connect a model server; its key is sealed and never shown again (only its first characters)."""
        access.require_admin(actor.user, "manage models")
        name = name.strip().lower()
        if name in RESERVED:
            raise InvalidInput(f"'{name}' names the bundled models; choose another name for the connection.")
        if not NAME.match(name):
            raise InvalidInput(
                "Name the connection with 1 to 40 lowercase letters, digits, dots, dashes or underscores "
                f"(its models are called <name>/<model>), not '{name}'."
            )
        kind_of = providers.provider(provider)
        key = key.strip()
        if kind_of.needs_key and not key:
            raise InvalidInput(f"{kind_of.label} needs an API key.")
        if kind_of.needs_version and not api_version.strip():
            raise InvalidInput(f"{kind_of.label} needs its API version (for example 2024-10-21).")
        at = now()
        connection = Connection(
            id="conn_" + new_id()[:16],
            name=name,
            provider=provider,
            api_base=_base(provider, api_base),
            api_version=_version(api_version),
            key_prefix=prefix(key),
            models=_served(models),
            created_by=actor.name,
            created_at=at,
            updated_at=at,
        )
        self._check_names(connection)
        self._catalog.add_connection(connection, self._s.vault().seal(key) if key else None)
        self._s.models_changed()
        log.info("%s connected %s (%s, %d models)", actor.name, name, provider, len(connection.models))
        return connection

    def edit(
        self,
        actor: Actor,
        connection: str,
        *,
        api_base: str | None = None,
        key: str | None = None,
        models: Sequence[str | ServedModel] | None = None,
        api_version: str | None = None,
    ) -> Connection:
        """Change a connection; `key` None keeps the saved key, "" removes it."""
        access.require_admin(actor.user, "manage models")
        found = self._connection(connection)
        key = None if key is None else key.strip()
        if key == "" and providers.provider(found.provider).needs_key:
            raise InvalidInput(f"{providers.provider(found.provider).label} needs an API key; enter a new one instead.")
        changed = replace(
            found,
            api_base=found.api_base if api_base is None else _base(found.provider, api_base),
            api_version=found.api_version if api_version is None else _version(api_version),
            models=found.models if models is None else _served(models),
            key_prefix=found.key_prefix if key is None else prefix(key),
            updated_at=now(),
        )
        if key is None and found.key_prefix:
            _same_host(found, changed.api_base)
        self._check_names(changed)
        gone = set(_names(found)) - set(_names(changed))
        self._check_unused(gone)
        sealed = self._s.vault().seal(key) if key else None
        self._catalog.update_connection(changed, sealed, new_key=key is not None)
        self._s.models_changed()
        self._drop_from_roles(actor, gone)
        log.info("%s changed the connection %s", actor.name, found.name)
        return changed

    def remove(self, actor: Actor, connection: str) -> Connection:
        access.require_admin(actor.user, "manage models")
        found = self._connection(connection)
        self._check_unused(set(_names(found)))
        self._catalog.remove_connection(found.id)
        self._s.models_changed()
        self._drop_from_roles(actor, set(_names(found)))
        log.info("%s removed the connection %s", actor.name, found.name)
        return found

    def test(self, actor: Actor, model: str) -> Tested:
        """One small real call to a model (a one-word answer, or one short text embedded); what failed, in words."""
        access.require_admin(actor.user, "manage models")
        entry = self._s.models.all().get(model)
        if entry is None:
            raise NotFound(f"There is no model named '{model}'.")
        usage = self._s.usage(actor, "test", (), model)
        try:
            target, params = self._s.models.resolve(model)
            call = self._s.remote_call(target, {**params, "num_retries": 0, "max_retries": 0})
            if "embedding" in entry.kinds:
                embedded = llm.embed(target, [TEST_TEXT], params=call)
                usage.record(embedded)
                return Tested(model, True, f"Works: a {embedded.vectors.shape[1]}-number vector.", embedded.latency_ms)
            if "rerank" in entry.kinds:
                ranked = llm.rerank(target, "test", ["a", "b"], params=call)
                usage.record(ranked)
                return Tested(model, True, "Works: two texts ranked.", ranked.latency_ms)
            answered = llm.complete(
                target, [{"role": "user", "content": TEST_PROMPT}], params={**call, "max_tokens": 20}
            )
            usage.record(answered)
            said = answered.text if len(answered.text) <= 80 else answered.text[:79] + "…"
            said = said or "(an empty answer)"
            return Tested(model, True, f"Works: it answered “{said}”", answered.latency_ms)
        except (ModelError, InvalidInput) as exc:
            usage.record(None, error=str(exc))
            return Tested(model, False, str(exc))

    def set_role(self, actor: Actor, role: str, *, default: str, allowed: Sequence[str] | None = None) -> RoleChoice:
        """A role's default model and the models users may pick for it (None: every model of its kind)."""
        return self.set_roles(actor, {role: RoleChoice(default, None if allowed is None else tuple(allowed))})[role]

    def set_roles(self, actor: Actor, choices: Mapping[str, RoleChoice]) -> dict[str, RoleChoice]:
        """Several roles' choices at once: all are checked first, then saved together (none if one is wrong)."""
        access.require_admin(actor.user, "manage models")
        checked = {role: self._checked(role, choice) for role, choice in choices.items()}

        def change(stored: Any) -> dict[str, Any]:
            value = dict(stored or {})
            for role, c in checked.items():
                value[role] = {"default": c.default, "allowed": None if c.allowed is None else list(c.allowed)}
            return value

        self._catalog.change_app_setting(ROLES_KEY, change, by=actor.name)
        self._s.models_changed()
        log.info("%s chose the models of %s", actor.name, ", ".join(checked))
        return checked

    def _checked(self, role: str, choice: RoleChoice) -> RoleChoice:
        if role not in ROLES:
            raise InvalidInput(f"'{role}' is not a model role; roles: {', '.join(ROLES)}.")
        if role == "rerank" and choice.default:
            raise InvalidInput("Rerank models have no default (a store's search settings pick one); choose which "
                               "users may pick.")  # fmt: skip
        known = set(self._s.models.names(ROLES[role]))
        picked = None if choice.allowed is None else tuple(dict.fromkeys(choice.allowed))
        for name in [choice.default, *(picked or ())]:
            if name and name not in known:
                raise InvalidInput(f"'{name}' is not a {ROLES[role]} model the workbench knows.")
        if picked is not None and choice.default and choice.default not in picked:
            picked = (choice.default, *picked)
        return RoleChoice(choice.default, picked or None)

    def local_servers(self, actor: Actor, *, again: bool = False) -> Looked:
        """Model servers on this machine: looked for on loopback the first time, and when asked `again`."""
        access.require_admin(actor.user, "manage models")
        key = f"{LOCAL_KEY}:{socket.gethostname()}"  # what this machine runs: each replica looks at its own
        stored = self._catalog.app_setting(key)
        if stored and not again:
            servers = tuple(LocalServer(s["provider"], s["api_base"], tuple(s["models"])) for s in stored["servers"])
            return Looked(datetime.fromisoformat(stored["at"]), servers)
        found = providers.discover(providers.local_ports(self._s.settings.local_model_ports))
        at = now()
        value = {"at": at.isoformat(), "servers": [{"provider": s.provider, "api_base": s.api_base,
                                                     "models": list(s.models)} for s in found]}  # fmt: skip
        self._catalog.set_app_setting(key, value, by=actor.name)
        return Looked(at, tuple(found))

    # --- helpers ---
    def _connection(self, ref: str) -> Connection:
        for found in self._catalog.connections():
            if ref in (found.id, found.name):
                return found
        raise NotFound(f"There is no such connection: '{ref}'.")

    def _key_of(self, connection: Connection) -> str:
        sealed = self._catalog.sealed_key(connection.id)
        return self._s.vault().open(sealed, what=f"'{connection.name}'") if sealed else ""

    def _check_names(self, connection: Connection) -> None:
        fixed = self._s.models.entries
        for name in _names(connection):
            if name in fixed:
                raise InvalidInput(
                    f"'{name}' is already a model of the server's config; name the connection otherwise."
                )

    def _check_unused(self, gone: set[str]) -> None:
        """A model some store embeds with stays: its searches and uploads would fail."""
        using = sorted(s.name for s in self._catalog.list_stores() if s.embedding_model in gone)
        if using:
            model = next(s.embedding_model for s in self._catalog.list_stores() if s.name == using[0])
            raise InvalidInput(
                f"{', '.join(repr(n) for n in using)} embed with {model}: rebuild "
                f"{'them' if len(using) > 1 else 'it'} with another model first (Stores → Embedding)."
            )

    def _drop_from_roles(self, actor: Actor, gone: set[str]) -> None:
        """A removed model stops being a default or a choice (the configured one answers again; a list left empty
        offers every model again)."""
        if not gone:
            return

        def change(stored: Any) -> dict[str, Any]:
            value = dict(stored or {})
            for role, choice in value.items():
                allowed = choice.get("allowed")
                kept = None if allowed is None else [n for n in allowed if n not in gone] or None
                default = "" if choice.get("default") in gone else choice.get("default", "")
                value[role] = {"default": default, "allowed": kept}
            return value

        self._catalog.change_app_setting(ROLES_KEY, change, by=actor.name)
        self._s.models_changed()


def _same_host(connection: Connection, api_base: str) -> None:
    """A saved key goes only to the server it was saved for: a new address needs the key typed again."""
    if urlsplit(api_base).netloc != urlsplit(connection.api_base).netloc:
        raise InvalidInput(
            f"The saved key of '{connection.name}' goes only to {urlsplit(connection.api_base).netloc or 'its provider'}; "
            "type the key again to use another address."
        )


def _version(value: str) -> str:
    version = value.strip()
    if len(version) > 40 or any(c.isspace() for c in version):
        raise InvalidInput(f"'{version[:60]}' is not an API version (for example 2024-10-21).")
    return version


def _base(provider: str, api_base: str) -> str:
    kind_of = providers.provider(provider)
    base = api_base.strip().rstrip("/")
    if len(base) > 500:
        raise InvalidInput("A server address has at most 500 characters.")
    if kind_of.needs_base and not base:
        raise InvalidInput(f"{kind_of.label} needs the address of its server (for example http://127.0.0.1:8080/v1).")
    if base and not re.match(r"^https?://[^\s/]+", base):
        raise InvalidInput(f"'{base}' is not a server address; write it as http://host:port or https://host.")
    return base


def _served(models: Sequence[str | ServedModel]) -> tuple[ServedModel, ...]:
    out: dict[str, ServedModel] = {}
    for item in models:
        served = item if isinstance(item, ServedModel) else ServedModel(item.strip(), providers.guess_kind(item))
        if not served.name or len(served.name) > MAX_MODEL or any(c.isspace() for c in served.name):
            raise InvalidInput(f"'{served.name[:80]}' is not a model name (no spaces, at most {MAX_MODEL} characters).")
        if served.kind not in SERVED_KINDS:
            raise InvalidInput(f"A model is for one of {', '.join(SERVED_KINDS)}, not '{served.kind}'.")
        out[served.name] = served
    if not out:
        raise InvalidInput("Choose at least one model this server serves.")
    return tuple(out.values())


def _names(connection: Connection) -> list[str]:
    return [e.name for e in providers.entries(connection)]
