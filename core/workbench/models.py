"""Models: administrators connect model servers (with their keys, sealed), test them, find the ones running on this
machine, and choose each role's default model and the models users may pick; everyone sees what they may use."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

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
            api_version=api_version.strip(),
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
        changed = replace(
            found,
            api_base=found.api_base if api_base is None else _base(found.provider, api_base),
            api_version=found.api_version if api_version is None else api_version.strip(),
            models=found.models if models is None else _served(models),
            key_prefix=found.key_prefix if key is None else prefix(key.strip()),
            updated_at=now(),
        )
        self._check_names(changed)
        sealed = self._s.vault().seal(key.strip()) if key else None
        self._catalog.update_connection(changed, sealed, new_key=key is not None)
        self._s.models_changed()
        self._drop_from_roles(actor, {f"{found.name}/{m.name}" for m in found.models} - set(_names(changed)))
        log.info("%s changed the connection %s", actor.name, found.name)
        return changed

    def remove(self, actor: Actor, connection: str) -> Connection:
        access.require_admin(actor.user, "manage models")
        found = self._connection(connection)
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
        access.require_admin(actor.user, "manage models")
        if role not in ROLES:
            raise InvalidInput(f"'{role}' is not a model role; roles: {', '.join(ROLES)}.")
        known = set(self._s.models.names(ROLES[role]))
        picked = None if allowed is None else tuple(dict.fromkeys(allowed))
        for name in [default, *(picked or ())]:
            if name and name not in known:
                raise InvalidInput(f"'{name}' is not a {ROLES[role]} model the workbench knows.")
        if picked is not None and default and default not in picked:
            picked = (default, *picked)
        choice = RoleChoice(default, picked)
        stored = dict(self._catalog.app_setting(ROLES_KEY) or {})
        stored[role] = {"default": choice.default, "allowed": None if picked is None else list(picked)}
        self._catalog.set_app_setting(ROLES_KEY, stored, by=actor.name)
        self._s.models_changed()
        log.info("%s chose %s as the %s model", actor.name, default or "the configured one", role)
        return choice

    def local_servers(self, actor: Actor, *, again: bool = False) -> Looked:
        """Model servers on this machine: looked for on loopback the first time, and when asked `again`."""
        access.require_admin(actor.user, "manage models")
        stored = self._catalog.app_setting(LOCAL_KEY)
        if stored and not again:
            servers = tuple(LocalServer(s["provider"], s["api_base"], tuple(s["models"])) for s in stored["servers"])
            return Looked(datetime.fromisoformat(stored["at"]), servers)
        found = providers.discover(providers.local_ports(self._s.settings.local_model_ports))
        at = now()
        value = {"at": at.isoformat(), "servers": [{"provider": s.provider, "api_base": s.api_base,
                                                     "models": list(s.models)} for s in found]}  # fmt: skip
        self._catalog.set_app_setting(LOCAL_KEY, value, by=actor.name)
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

    def _drop_from_roles(self, actor: Actor, gone: set[str]) -> None:
        """A removed model stops being a default or a choice (the configured one answers again)."""
        stored = dict(self._catalog.app_setting(ROLES_KEY) or {})
        changed = False
        for choice in stored.values():
            if choice.get("default") in gone:
                choice["default"], changed = "", True
            if choice.get("allowed") is not None and gone & set(choice["allowed"]):
                choice["allowed"], changed = [n for n in choice["allowed"] if n not in gone], True
        if changed:
            self._catalog.set_app_setting(ROLES_KEY, stored, by=actor.name)
            self._s.models_changed()


def _base(provider: str, api_base: str) -> str:
    kind_of = providers.provider(provider)
    base = api_base.strip().rstrip("/")
    if kind_of.needs_base and not base:
        raise InvalidInput(f"{kind_of.label} needs the address of its server (for example http://127.0.0.1:8080/v1).")
    if base and not re.match(r"^https?://[^\s/]+", base):
        raise InvalidInput(f"'{base}' is not a server address; write it as http://host:port or https://host.")
    return base


def _served(models: Sequence[str | ServedModel]) -> tuple[ServedModel, ...]:
    out: dict[str, ServedModel] = {}
    for item in models:
        served = item if isinstance(item, ServedModel) else ServedModel(item.strip(), providers.guess_kind(item))
        if not served.name or len(served.name) > 200 or any(c.isspace() for c in served.name):
            raise InvalidInput(f"'{served.name}' is not a model name (no spaces, at most 200 characters).")
        if served.kind not in SERVED_KINDS:
            raise InvalidInput(f"A model is for one of {', '.join(SERVED_KINDS)}, not '{served.kind}'.")
        out[served.name] = served
    if not out:
        raise InvalidInput("Choose at least one model this server serves.")
    return tuple(out.values())


def _names(connection: Connection) -> list[str]:
    return [e.name for e in providers.entries(connection)]
