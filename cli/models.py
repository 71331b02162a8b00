"""`python -m core model ...`: the Models page's work for administrators at a terminal."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from cli import terminal
from core.errors import InvalidInput
from core.models import ROLES
from core.providers import PROVIDERS
from core.records import Actor
from core.workbench import Workbench


def arguments(commands: argparse._SubParsersAction, plain: list, listed: list) -> None:  # type: ignore[type-arg]
    model = commands.add_parser("model", help="model connections and defaults (administrators)").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    model.add_parser("list", parents=listed, help="every model, where it comes from and the roles it is default for")
    add = model.add_parser("add", parents=plain, help="connect a model server (its key read from standard input)")
    add.add_argument("name", help="the connection's name; its models are called NAME/MODEL")
    add.add_argument("--provider", required=True, choices=list(PROVIDERS))
    add.add_argument("--base", default="", metavar="URL", help="the server's address (default: the provider's)")
    add.add_argument("--key", action="store_true", help="read the API key from standard input (never an argument)")
    add.add_argument("--model", action="append", default=[], metavar="MODEL", help="a model it serves (repeatable; "
                     "default: every model the server lists)")  # fmt: skip
    add.add_argument("--api-version", default="", help="Azure OpenAI's API version")
    model.add_parser("test", parents=plain, help="one small real call to a model").add_argument("model")
    model.add_parser("remove", parents=plain, help="remove a connection and its models").add_argument("connection")
    default = model.add_parser("default", parents=plain, help="make a model the default for a role")
    default.add_argument("role", choices=list(ROLES))
    default.add_argument("model", help="a model name as `model list` shows it ('' : the configured one)")


def model_list(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    roles = wb.models.roles(me)
    names = {c.id: c.name for c in wb.models.connections(me)}
    rows = [
        {
            "model": e.name,
            "kinds": ", ".join(e.kinds),
            "from": {"bundled": "bundled", "config": "server config (read-only)"}.get(e.source)
            or f"connection {names.get(e.connection, '?')}",
            "default for": ", ".join(r for r in ROLES if wb.models.default(me, r) == e.name),
            "offered": "yes" if all(c.allowed is None or e.name in c.allowed for c in roles.values()) else "limited",
        }
        for e in wb.models.entries(me)
    ]
    terminal.print_rows(rows, as_json=args.json, empty="No models.")


def model_add(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    key = _key() if args.key else ""
    models = args.model or wb.models.server_models(me, args.provider, api_base=args.base, key=key)
    if not models:
        raise InvalidInput(f"{PROVIDERS[args.provider].label} cannot list its models; name them with --model.")
    made = wb.models.add(
        me, args.name, args.provider, api_base=args.base, key=key, models=models, api_version=args.api_version
    )
    count = f"{len(made.models)} model" + ("" if len(made.models) == 1 else "s")
    print(f"Connected '{made.name}' ({PROVIDERS[made.provider].label.split(' (')[0]}) with {count}:")
    for served in made.models:
        print(f"  {made.name}/{served.name} ({served.kind})")


def model_test(wb: Workbench, args: argparse.Namespace, me: Actor) -> int:
    tested = wb.models.test(me, args.model)
    print(f"{tested.model}: {tested.message}" + (f" ({tested.latency_ms:.0f} ms)" if tested.ok else ""))
    return 0 if tested.ok else 1


def model_remove(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    gone = wb.models.remove(me, args.connection)
    print(f"Removed the connection '{gone.name}' and its models ({', '.join(m.name for m in gone.models)}).")


def model_default(wb: Workbench, args: argparse.Namespace, me: Actor) -> None:
    allowed = wb.models.roles(me)[args.role].allowed
    wb.models.set_role(me, args.role, default=args.model, allowed=allowed)
    print(f"The {args.role} model is now {wb.models.default(me, args.role) or 'none'}.")


def _key() -> str:
    """The key from standard input: typed without echo at a terminal, or piped in (never an argument)."""
    line = (getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not line:
        raise InvalidInput(
            "Type the API key on standard input, for example: python -m core model add ... --key < key.txt"
        )
    return line


COMMANDS: dict[tuple[str, str | None], Callable[[Workbench, argparse.Namespace, Actor], int | None]] = {
    ("model", "list"): model_list,
    ("model", "add"): model_add,
    ("model", "test"): model_test,
    ("model", "remove"): model_remove,
    ("model", "default"): model_default,
}
